"""NSS certificate databases, where Chromium (``~/.pki/nssdb``) and each Firefox profile keep
the CAs they trust, read and changed with NSS's ``certutil`` (``-L`` list, ``-A`` add, ``-D``
delete). A Veil CA is known there by its nickname, its unique common name, and is checked by
its fingerprint before anything is deleted.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from certs.errors import TrustError, run_tool

__all__ = [
    "CERTUTIL_PACKAGES",
    "NSS_TRUST_FLAGS",
    "NssDatabase",
    "nss_databases",
    "require_certutil",
    "run_certutil",
]

# Trusted to issue TLS server certificates only: not e-mail (S/MIME) nor code signing.
NSS_TRUST_FLAGS = "C,,"
# certutil answers in well under a second; a hung one must not hang the command.
CERTUTIL_TIMEOUT_S = 30
CERTUTIL_PACKAGES = (
    "Debian/Ubuntu: sudo apt install libnss3-tools; Fedora: sudo dnf install nss-tools; "
    "Arch: sudo pacman -S nss; macOS: brew install nss"
)
# Firefox keeps one database per profile; Debian's Firefox ESR and Ubuntu's snap elsewhere.
_FIREFOX_ROOTS = (
    ".mozilla/firefox",
    ".mozilla/firefox-esr",
    "snap/firefox/common/.mozilla/firefox",
)


def require_certutil() -> None:
    """Raises TrustError, naming each system's package, when certutil is not installed."""
    if shutil.which("certutil") is None:
        raise TrustError(f"certutil not found: install it ({CERTUTIL_PACKAGES}) and run again")


def run_certutil(*args: str) -> str:
    """Run certutil with ``args``; its standard output.

    Raises:
        TrustError: certutil is not installed, timed out, or failed.
    """
    require_certutil()
    return run_tool(["certutil", *args], CERTUTIL_TIMEOUT_S)


@dataclass(frozen=True)
class NssDatabase:
    """One NSS database folder (``cert9.db``, ``key4.db``) and what it is for."""

    path: Path
    label: str

    @property
    def _dir(self) -> str:
        return f"sql:{self.path}"

    def exists(self) -> bool:
        return (self.path / "cert9.db").exists()

    def create(self) -> None:
        """Make an empty database without a password, as Chromium would on first start."""
        require_certutil()  # before the folder: a failed command leaves nothing behind
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_certutil("-N", "-d", self._dir, "--empty-password")

    def nicknames(self) -> dict[str, str]:
        """Each certificate's nickname and trust flags (``C,,``), from ``certutil -L``."""
        found: dict[str, str] = {}
        for line in run_certutil("-L", "-d", self._dir).splitlines()[4:]:  # after the header
            nickname, _, flags = line.rstrip().rpartition(" ")
            if nickname.strip():
                found[nickname.strip()] = flags
        return found

    def _certs(self, nickname: str) -> Iterator[x509.Certificate]:
        pem = run_certutil("-L", "-d", self._dir, "-n", nickname, "-a")
        yield from x509.load_pem_x509_certificates(pem.encode())

    def holds(self, cert: x509.Certificate, nickname: str, listed: dict[str, str]) -> bool:
        """Whether ``cert`` itself (not just its nickname) is in ``listed`` (``nicknames()``)."""
        return nickname in listed and any(found == cert for found in self._certs(nickname))

    def trusts(self, cert: x509.Certificate, nickname: str, listed: dict[str, str]) -> bool:
        """Whether ``cert`` is here and trusted to issue TLS server certificates."""
        return "C" in listed.get(nickname, "").split(",")[0] and self.holds(cert, nickname, listed)

    def add(self, cert_path: Path, nickname: str) -> None:
        run_certutil(
            "-A", "-d", self._dir, "-t", NSS_TRUST_FLAGS, "-n", nickname, "-i", str(cert_path)
        )

    def delete(self, nickname: str) -> None:
        run_certutil("-D", "-d", self._dir, "-n", nickname)


def nss_databases(home: Path) -> list[NssDatabase]:
    """Chromium's database (listed even before it exists) and every Firefox profile's."""
    found = [NssDatabase(home / ".pki" / "nssdb", "Chromium")]
    for root in _FIREFOX_ROOTS:
        for cert9 in sorted((home / root).glob("*/cert9.db")):
            found.append(NssDatabase(cert9.parent, f"Firefox profile {cert9.parent.name}"))
    return found
