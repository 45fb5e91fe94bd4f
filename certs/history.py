"""The CAs a confdir has had: the certificates of those replaced, and whether the current one
still waits for ``veil certs install`` (``trust-pending``).

A replaced CA's certificate is public and kept, so that ``veil certs install`` and
``uninstall`` can find it in the trust stores and take it out; its key is not kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from certs.errors import CaError
from certs.files import SECRET_DIR_MODE, write_secret

__all__ = [
    "PENDING_FILE",
    "SUPERSEDED_DIR",
    "VeilCa",
    "known_cas",
    "mark_pending",
    "mark_trusted",
    "set_aside",
    "superseded_certs",
    "trust_pending",
]

SUPERSEDED_DIR = "superseded"
PENDING_FILE = "trust-pending"
CURRENT_CERT = "mitmproxy-ca-cert.pem"
_RANDOM_ID = re.compile(r"[0-9a-f]{6}")


@dataclass(frozen=True)
class VeilCa:
    """One of this install's CA certificates, as the trust stores know it."""

    path: Path
    cert: x509.Certificate

    @classmethod
    def load(cls, path: Path) -> VeilCa:
        """Read a PEM or DER certificate.

        Raises:
            CaError: the file is unreadable or not a certificate.
        """
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise CaError(f"cannot read the CA certificate {path}: {error}") from error
        try:
            if raw.lstrip().startswith(b"-----BEGIN"):
                return cls(Path(path), x509.load_pem_x509_certificate(raw))
            return cls(Path(path), x509.load_der_x509_certificate(raw))
        except ValueError:
            raise CaError(f"{path} is not a PEM or DER certificate") from None

    @property
    def nickname(self) -> str:
        """Its common name, unique per CA: the name NSS and the keychains list it by."""
        names = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else "Veil CA"

    @property
    def ident(self) -> str:
        """A short id for file names: the common name's random tail, else the fingerprint's."""
        tail = self.nickname.rpartition(" ")[2]
        return tail if _RANDOM_ID.fullmatch(tail) else self.sha256[:12]

    @property
    def sha256(self) -> str:
        return self.cert.fingerprint(hashes.SHA256()).hex()

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint as browsers show it, ``AB:CD:...``."""
        return self.cert.fingerprint(hashes.SHA256()).hex(":").upper()

    @property
    def sha1(self) -> str:
        """The SHA-1 thumbprint, which macOS and Windows stores take as an exact id."""
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()


def known_cas(confdir: Path) -> tuple[VeilCa | None, list[VeilCa]]:
    """The current CA's certificate (None before the first) and those it replaced.

    Raises:
        CaError: one of them is unreadable.
    """
    confdir = Path(confdir).expanduser()
    path = confdir / CURRENT_CERT
    current = VeilCa.load(path) if path.exists() else None
    old = [VeilCa.load(path) for path in superseded_certs(confdir)]
    # A replacement cut short may have set the current one aside too: it is not stale.
    return current, [ca for ca in old if current is None or ca.cert != current.cert]


def set_aside(confdir: Path, cert: x509.Certificate) -> Path:
    """Keep a replaced CA's certificate in ``superseded/``, named by its fingerprint."""
    folder = confdir / SUPERSEDED_DIR
    folder.mkdir(mode=SECRET_DIR_MODE, exist_ok=True)
    path = folder / f"{cert.fingerprint(hashes.SHA256()).hex()[:16]}.pem"
    # Veil's own record for `uninstall`, not a copy to hand out: owner-only like the home.
    write_secret(path, cert.public_bytes(serialization.Encoding.PEM))
    return path


def superseded_certs(confdir: Path) -> list[Path]:
    """The certificates of the CAs the current one replaced, oldest first."""
    folder = Path(confdir).expanduser() / SUPERSEDED_DIR
    return sorted(folder.glob("*.pem"), key=lambda path: (path.stat().st_mtime, path.name))


def mark_pending(confdir: Path) -> None:
    """A new CA is being made: no trust store has it yet."""
    # Written before the new key: a crash in between leaves a CA that asks to be re-trusted.
    (confdir / PENDING_FILE).write_text("no trust store has this CA yet: veil certs install\n")


def trust_pending(confdir: Path) -> bool:
    """Whether the current CA was made after the last ``veil certs install``."""
    return (Path(confdir).expanduser() / PENDING_FILE).exists()


def mark_trusted(confdir: Path) -> None:
    """``veil certs install`` has put the current CA into the trust stores."""
    (Path(confdir).expanduser() / PENDING_FILE).unlink(missing_ok=True)
