"""Veil's per-install certificate authority, limited to the protected sites, and how users
come to trust it (and stop trusting the CAs it replaced).

Stands alone: imports nothing from ``proxy`` or ``filters``.
"""

from certs.ca import CaFiles, create_ca, ensure_ca, fingerprint, renew_ca
from certs.constraints import covers, name_constraints
from certs.errors import CaError, TrustError
from certs.keeper import CaKeeper
from certs.trust import (
    install_nss_trust,
    install_trust,
    nss_trust_command,
    trust_instructions,
    trust_status,
    uninstall_trust,
)

__all__ = [
    "CaError",
    "CaFiles",
    "CaKeeper",
    "TrustError",
    "covers",
    "create_ca",
    "ensure_ca",
    "fingerprint",
    "install_nss_trust",
    "install_trust",
    "name_constraints",
    "nss_trust_command",
    "renew_ca",
    "trust_instructions",
    "trust_status",
    "uninstall_trust",
]
