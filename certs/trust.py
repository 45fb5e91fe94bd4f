"""How a user trusts Veil's CA: short instructions per platform, and NSS trust via certutil.

Chromium on Linux reads the user's NSS database (``~/.pki/nssdb``); Firefox keeps one per
profile. ``install_nss_trust`` adds the CA there as trusted for TLS servers only ("C,,").
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from certs.ca import CaError

__all__ = [
    "DEFAULT_NSSDB",
    "NSS_TRUST_FLAGS",
    "TrustError",
    "install_nss_trust",
    "nss_trust_command",
    "trust_instructions",
]

DEFAULT_NSSDB = Path.home() / ".pki" / "nssdb"
# Trusted to issue TLS server certificates only: not e-mail (S/MIME) nor code signing.
NSS_TRUST_FLAGS = "C,,"
# certutil answers in well under a second; a hung one must not hang start-up.
CERTUTIL_TIMEOUT_S = 30


class TrustError(RuntimeError):
    """certutil is missing or refused to add the certificate."""


def _load_cert(cert_path: Path) -> x509.Certificate:
    try:
        raw = Path(cert_path).read_bytes()
    except OSError as error:
        raise CaError(f"cannot read the CA certificate {cert_path}: {error}") from error
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(raw)
        return x509.load_der_x509_certificate(raw)
    except ValueError as error:
        raise CaError(f"{cert_path} is not a PEM or DER certificate") from error


def _nickname(cert_path: Path) -> str:
    """The certificate's common name: unique per install, so two installs stay apart."""
    names = _load_cert(cert_path).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "Veil CA"


def nss_trust_command(cert_path: Path, nssdb: Path, nickname: str | None = None) -> list[str]:
    """The certutil command that trusts ``cert_path`` in the NSS database ``nssdb``.

    Raises:
        CaError: ``cert_path`` is not a readable certificate (needed for the nickname).
    """
    name = nickname or _nickname(cert_path)
    return [
        "certutil",
        "-d",
        f"sql:{nssdb}",
        "-A",
        "-t",
        NSS_TRUST_FLAGS,
        "-n",
        name,
        "-i",
        str(cert_path),
    ]


def trust_instructions(cert_path: Path) -> str:
    """Short, copy-pasteable ways to trust the CA, for the start-up output.

    Raises:
        CaError: ``cert_path`` is not a readable certificate.
    """
    cert_path = Path(cert_path)
    der_path = cert_path.with_suffix(".cer")
    windows_path = der_path if der_path.exists() else cert_path
    pem = shlex.quote(str(cert_path))
    # Written out rather than shlex.join'ed so that the shell expands $HOME.
    nickname = shlex.quote(_nickname(cert_path))
    nss = f'certutil -d "sql:$HOME/.pki/nssdb" -A -t "{NSS_TRUST_FLAGS}" -n {nickname} -i {pem}'
    return "\n".join(
        [
            f"Trust Veil's certificate authority once ({cert_path}):",
            f"  Linux, Chromium/Chrome:  {nss}",
            "  Linux, Firefox:          the same command with -d sql:<your Firefox profile dir>",
            f"  Debian/Ubuntu system:    sudo cp {pem} /usr/local/share/ca-certificates/veil-ca.crt"
            " && sudo update-ca-certificates",
            "  macOS:                   sudo security add-trusted-cert -d -r trustRoot"
            f" -k /Library/Keychains/System.keychain {pem}",
            f'  Windows:                 certutil -addstore -user Root "{windows_path}"',
        ]
    )


def _run_certutil(command: list[str]) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=CERTUTIL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TrustError(f"could not run {shlex.join(command)}: {error}") from error
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise TrustError(f"{shlex.join(command)} failed ({result.returncode}): {detail}")


def install_nss_trust(cert_path: Path, nssdb: Path = DEFAULT_NSSDB) -> None:
    """Trust the CA in an NSS database, creating the database (no password) if absent.

    Raises:
        TrustError: certutil is not installed, or it failed.
        CaError: ``cert_path`` is not a readable certificate.
    """
    nssdb = Path(nssdb).expanduser()
    command = nss_trust_command(cert_path, nssdb)
    if shutil.which("certutil") is None:
        raise TrustError(
            "certutil not found: install libnss3-tools (Debian/Ubuntu) or nss-tools "
            "(Fedora), or trust the CA by hand:\n" + trust_instructions(cert_path)
        )
    if not (nssdb / "cert9.db").exists():
        nssdb.mkdir(mode=0o700, parents=True, exist_ok=True)
        _run_certutil(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"])
    _run_certutil(command)
