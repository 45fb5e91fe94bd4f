"""The running proxy's CA: ensured for the protected sites at start and after each policy
change, re-issued when a new site falls outside its name constraints, and described for the
control API (``{"fingerprint", "renew", "command"}``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from certs.ca import CaFiles, ensure_ca
from certs.errors import CaError
from certs.history import trust_pending
from certs.trust import INSTALL_COMMAND

__all__ = ["TRUST_FIELD", "CaKeeper", "TrustInfo"]

log = logging.getLogger(__name__)

TrustInfo = dict[str, str | bool]
# The field /health carries (``CaKeeper.status``), as an OpenAPI 3.1 property.
TRUST_FIELD: dict[str, object] = {
    "trust": {
        "type": "object",
        "description": "Veil's CA and whether the browsers must be told to trust it again.",
        "properties": {
            "fingerprint": {
                "type": "string",
                "description": "SHA-256 of the CA certificate Veil signs with, as browsers show.",
            },
            "renew": {
                "type": "boolean",
                "description": "True until `command` has run for this CA: it is new, or it "
                "replaced one whose name constraints did not cover a newly protected site. "
                "Meanwhile browsers refuse Veil's certificates for the protected sites.",
            },
            "command": {"type": "string", "description": "What the user runs to trust it."},
        },
        "required": ["fingerprint", "renew", "command"],
        "additionalProperties": False,
    }
}


class CaKeeper:
    """Keeps the CA in ``confdir`` covering ``sites()``; calls ``on_new`` listeners on change.

    Raises (from the constructor): CaError or OSError, as ``ensure_ca`` does.
    """

    def __init__(self, confdir: Path, sites: Callable[[], Sequence[str]]) -> None:
        self.confdir = Path(confdir)
        self._sites = sites
        self.ca: CaFiles = ensure_ca(self.confdir, sites=sites())
        self._listeners: list[Callable[[CaFiles], None]] = []

    def on_new(self, listener: Callable[[CaFiles], None]) -> None:
        """Call ``listener`` with the new CA each time it changes."""
        self._listeners.append(listener)

    def refresh(self) -> bool:
        """Ensure the CA covers the sites now; True when it changed (and listeners were told).

        A CA that cannot be ensured (its key deleted meanwhile) is logged, not raised: the
        caller is a policy change that has already happened, and the proxy keeps its CA.
        """
        try:
            ca = ensure_ca(self.confdir, sites=self._sites())
        except (CaError, OSError) as error:
            log.error("cannot renew Veil's CA: %s", error)
            return False
        changed = ca.fingerprint_sha256 != self.ca.fingerprint_sha256
        self.ca = ca
        if changed:
            for listener in self._listeners:
                listener(ca)
        return changed

    def status(self) -> TrustInfo:
        """What the control API says of trust: ``renew`` until ``veil certs install`` ran."""
        return {
            "fingerprint": self.ca.fingerprint_sha256,
            "renew": trust_pending(self.confdir),
            "command": INSTALL_COMMAND,
        }
