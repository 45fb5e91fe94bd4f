"""Veil's per-install certificate authority, in the files mitmproxy reads from its confdir.

``mitmproxy-ca.pem`` holds the private key and the certificate (the secret); the certificate
alone is in ``mitmproxy-ca-cert.pem`` and ``mitmproxy-ca-cert.cer``, for the user to trust.
The CA is name-constrained to the protected sites (``certs.constraints``), so a leaked key
cannot forge any other site. When the sites outgrow it, ``ensure_ca`` makes a new one: the
old certificate is kept in ``superseded/`` (so that ``veil certs`` can take it out of the
trust stores), its key is dropped, and ``trust-pending`` marks that no store trusts the new
CA yet. A key that has gone missing is an error, never a silent new CA.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.constraints import covers, name_constraints
from certs.errors import CaError
from certs.files import (
    SECRET_DIR_MODE,
    SECRET_FILE_MODE,
    locked,
    secret_umask,
    write_exclusive,
    write_public,
    write_secret,
)
from certs.history import mark_pending, set_aside

__all__ = [
    "CA_BACKDATE",
    "CA_VALIDITY",
    "PUBLIC_CERT_NAMES",
    "RENEW_COMMAND",
    "CaError",
    "CaFiles",
    "common_name_of",
    "create_ca",
    "ensure_ca",
    "fingerprint",
    "renew_ca",
]

# Three years: long enough that users do not have to re-trust a new CA often, short enough
# that a copied key stops working on its own (mitmproxy uses ten). Browsers limit leaf
# certificates to 398 days, not roots, so this only bounds how long a stolen key is useful.
CA_VALIDITY = datetime.timedelta(days=3 * 365)
# Backdated two days so clients whose clock runs slow still accept it (as mitmproxy does).
CA_BACKDATE = datetime.timedelta(days=2)
DEFAULT_COMMON_NAME = "Veil local CA"
RENEW_COMMAND = "veil certs renew"
_BASENAME = "mitmproxy"  # mitmproxy's CertStore looks for "<basename>-ca.pem" in confdir
# The certificate-only copies users hand to their browsers and systems: public, unlike the key.
PUBLIC_CERT_NAMES = (f"{_BASENAME}-ca-cert.pem", f"{_BASENAME}-ca-cert.cer")


@dataclass(frozen=True)
class CaFiles:
    """Where the CA lives and how to recognise it.

    Attributes:
        key_and_cert: ``mitmproxy-ca.pem``, private key + certificate (secret, mode 0600).
        cert_pem: ``mitmproxy-ca-cert.pem``, the certificate users trust.
        cert_der: ``mitmproxy-ca-cert.cer``, the same certificate in DER (Windows, macOS).
        fingerprint_sha256: colon-separated SHA-256 of the certificate, as browsers show it.
        common_name: the certificate's common name, unique per CA.
        created: whether this call created the CA (new, or replacing one).
        replaced: where the certificate of the CA this call replaced was kept, if any.
    """

    key_and_cert: Path
    cert_pem: Path
    cert_der: Path
    fingerprint_sha256: str
    common_name: str
    created: bool
    replaced: Path | None = None


def create_ca(
    organization: str,
    common_name: str,
    key_size: int = 2048,
    *,
    sites: Sequence[str] | None = None,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new self-signed CA key and certificate.

    Args:
        organization: the subject's organization.
        common_name: the subject's common name.
        key_size: RSA modulus bits (2048 or more).
        sites: when given, a critical NameConstraints extension limits the CA to the names
            these site patterns cover (``certs.constraints``); ``[]`` permits no real site.

    Raises:
        ValueError: a key size under 2048 bits, or an empty name.
    """
    if key_size < 2048:
        raise ValueError(f"RSA key size {key_size} is too small: use 2048 bits or more")
    if not organization or not common_name:
        raise ValueError("the CA needs a non-empty organization and common name")
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CA_BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if sites is not None:
        builder = builder.add_extension(name_constraints(sites), critical=True)
    return key, builder.sign(private_key=key, algorithm=hashes.SHA256())


def fingerprint(cert: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint as ``AB:CD:...``."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def common_name_of(cert: x509.Certificate) -> str:
    """The certificate's common name, or "" when it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def _load(path: Path) -> x509.Certificate:
    """The certificate of an existing key + certificate file, checked to match its key."""
    raw = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(raw, password=None)
        cert = x509.load_pem_x509_certificates(raw)[0]
    except (ValueError, TypeError) as error:
        raise CaError(
            f"{path} is not an unencrypted PEM key and certificate ({error}); "
            f"move it away, or run `{RENEW_COMMAND}` to make a new CA and trust it"
        ) from error
    if cert.public_key() != key.public_key():
        raise CaError(f"the key and the certificate in {path} do not match")
    return cert


def _paths(confdir: Path) -> tuple[Path, Path, Path]:
    return (
        confdir / f"{_BASENAME}-ca.pem",
        *(confdir / name for name in PUBLIC_CERT_NAMES),
    )


def _new_ca(
    organization: str, common_name: str, sites: Sequence[str]
) -> tuple[bytes, x509.Certificate]:
    """A new CA as the key file's bytes; its common name gets a short random id."""
    key, cert = create_ca(organization, f"{common_name} {secrets.token_hex(3)}", sites=sites)
    secret = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return secret + cert.public_bytes(serialization.Encoding.PEM), cert


def _finish(confdir: Path, created: bool, replaced: Path | None = None) -> CaFiles:
    key_path, cert_pem, cert_der = _paths(confdir)
    if key_path.stat().st_mode & 0o077:
        key_path.chmod(SECRET_FILE_MODE)  # someone loosened it: the key must stay private
    cert = _load(key_path)
    write_public(cert_pem, cert.public_bytes(serialization.Encoding.PEM))
    write_public(cert_der, cert.public_bytes(serialization.Encoding.DER))
    common = common_name_of(cert)
    return CaFiles(key_path, cert_pem, cert_der, fingerprint(cert), common, created, replaced)


def _replace(
    confdir: Path, old: x509.Certificate | None, names: tuple[str, str], sites: Sequence[str]
) -> CaFiles:
    """Make a new CA in place of ``old`` (whose certificate is kept aside first)."""
    replaced = set_aside(confdir, old) if old is not None else None
    secret, _ = _new_ca(*names, sites)
    mark_pending(confdir)
    write_secret(_paths(confdir)[0], secret)
    return _finish(confdir, True, replaced)


def ensure_ca(
    confdir: Path,
    organization: str = "Veil",
    common_name: str = DEFAULT_COMMON_NAME,
    *,
    sites: Sequence[str] = (),
) -> CaFiles:
    """The CA in ``confdir``, made or replaced so that it covers ``sites``.

    A new CA's common name gets a short random id (``"Veil local CA 3f9a1c"``) so a user can
    tell CAs apart in their trust store. An existing CA is kept while its name constraints
    permit every site (fewer sites change nothing); otherwise, and when it has no name
    constraints at all, a new CA for ``sites`` replaces it and ``replaced`` says where the
    old certificate went. Missing or stale certificate-only copies are rewritten.

    Raises:
        CaError: the key file is gone while its certificate is still there (the user may
            trust it: run ``veil certs renew``), or it is unreadable, or key and cert differ.
        OSError: ``confdir`` cannot be created or written.
    """
    confdir = Path(confdir).expanduser()
    key_path, cert_pem, _ = _paths(confdir)
    with secret_umask():
        confdir.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
        with locked(confdir):
            if key_path.exists():
                current = _load(key_path)
                if covers(current, sites):
                    return _finish(confdir, created=False)
                return _replace(confdir, current, (organization, common_name), sites)
            if cert_pem.exists():
                raise CaError(
                    f"Veil's CA key {key_path} is missing, but its certificate {cert_pem} is "
                    f"still there (and may be trusted): run `{RENEW_COMMAND}` to make a new "
                    "CA and trust it again"
                )
            secret, _ = _new_ca(organization, common_name, sites)
            mark_pending(confdir)
            created = write_exclusive(key_path, secret)
            return _finish(confdir, created)


def renew_ca(
    confdir: Path,
    organization: str = "Veil",
    common_name: str = DEFAULT_COMMON_NAME,
    *,
    sites: Sequence[str] = (),
) -> CaFiles:
    """Replace the CA with a new one for ``sites``, even when its key is gone or unreadable.

    The old certificate (from the key file, else from ``mitmproxy-ca-cert.pem``) is kept in
    ``superseded/`` so that ``veil certs install`` removes it from the trust stores.

    Raises:
        OSError: ``confdir`` cannot be created or written.
    """
    confdir = Path(confdir).expanduser()
    key_path, cert_pem, _ = _paths(confdir)
    with secret_umask():
        confdir.mkdir(mode=SECRET_DIR_MODE, parents=True, exist_ok=True)
        with locked(confdir):
            old = None
            for path in (key_path, cert_pem):
                try:
                    old = x509.load_pem_x509_certificates(path.read_bytes())[0]
                    break
                except (OSError, ValueError):
                    continue  # gone or unreadable: the other copy, or nothing, is set aside
            return _replace(confdir, old, (organization, common_name), sites)
