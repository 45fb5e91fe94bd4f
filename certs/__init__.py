"""Veil's per-install certificate authority and how users come to trust it.

Stands alone: imports nothing from ``proxy`` or ``filters``.
"""

from certs.ca import CaError, CaFiles, create_ca, ensure_ca, fingerprint
from certs.trust import TrustError, install_nss_trust, nss_trust_command, trust_instructions

__all__ = [
    "CaError",
    "CaFiles",
    "TrustError",
    "create_ca",
    "ensure_ca",
    "fingerprint",
    "install_nss_trust",
    "nss_trust_command",
    "trust_instructions",
]
