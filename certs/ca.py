"""Veil's per-install certificate authority, in the files mitmproxy reads from its confdir.

``mitmproxy-ca.pem`` holds the private key and the certificate (the secret: it can forge any
site the user's browser trusts it for); ``mitmproxy-ca-cert.pem`` and ``mitmproxy-ca-cert.cer``
hold only the certificate, for the user to trust. The key is written under a restrictive umask
and created once: the user trusted exactly this certificate, so it is never replaced.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_BACKDATE",
    "CA_VALIDITY",
    "CaError",
    "CaFiles",
    "create_ca",
    "ensure_ca",
    "fingerprint",
]

# Three years: long enough that users do not have to re-trust a new CA often, short enough
# that a copied key stops working on its own (mitmproxy uses ten). Browsers limit leaf
# certificates to 398 days, not roots, so this only bounds how long a stolen key is useful.
CA_VALIDITY = datetime.timedelta(days=3 * 365)
# Backdated two days so clients whose clock runs slow still accept it (as mitmproxy does).
CA_BACKDATE = datetime.timedelta(days=2)
DEFAULT_COMMON_NAME = "Veil local CA"
_BASENAME = "mitmproxy"  # mitmproxy's CertStore looks for "<basename>-ca.pem" in confdir
_SECRET_DIR_MODE, _SECRET_FILE_MODE, _PUBLIC_FILE_MODE = 0o700, 0o600, 0o644


class CaError(ValueError):
    """An existing CA file that cannot be used."""


@dataclass(frozen=True)
class CaFiles:
    """Where the CA lives and how to recognise it.

    Attributes:
        key_and_cert: ``mitmproxy-ca.pem``, private key + certificate (secret, mode 0600).
        cert_pem: ``mitmproxy-ca-cert.pem``, the certificate users trust.
        cert_der: ``mitmproxy-ca-cert.cer``, the same certificate in DER (Windows, macOS).
        fingerprint_sha256: colon-separated SHA-256 of the certificate, as browsers show it.
        common_name: the certificate's common name, unique per install.
        created: whether this call created the CA.
    """

    key_and_cert: Path
    cert_pem: Path
    cert_der: Path
    fingerprint_sha256: str
    common_name: str
    created: bool


def create_ca(
    organization: str,
    common_name: str,
    key_size: int = 2048,
    *,
    permitted_domains: Sequence[str] = (),
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new self-signed CA key and certificate.

    Args:
        organization: the subject's organization.
        common_name: the subject's common name.
        key_size: RSA modulus bits (2048 or more).
        permitted_domains: when given, a critical NameConstraints extension limits the CA to
            these DNS names and their subdomains, so a leaked key cannot forge other sites.

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
    if permitted_domains:
        permitted = [x509.DNSName(domain.strip(".").lower()) for domain in permitted_domains]
        # Constraints bind only the name forms they list: exclude every IP literal too.
        no_ips = [x509.IPAddress(ipaddress.ip_network(net)) for net in ("0.0.0.0/0", "::/0")]
        constraints = x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=no_ips)
        builder = builder.add_extension(constraints, critical=True)
    return key, builder.sign(private_key=key, algorithm=hashes.SHA256())


def fingerprint(cert: x509.Certificate) -> str:
    """The certificate's SHA-256 fingerprint as ``AB:CD:...``."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


# The umask is per process: the lock keeps two threads from restoring each other's value.
_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def _secret_umask() -> Iterator[None]:
    """Files and folders made inside are readable by their owner only.

    The writes below also pass explicit modes; the umask covers what they do not (parents).
    """
    with _UMASK_LOCK:
        original = os.umask(0o077)
        os.umask(original | 0o077)
        try:
            yield
        finally:
            os.umask(original)


def _write_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Write a file that must not exist yet, atomically; False if it already exists."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(temporary, path)  # fails if another process created it first
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _write_public(path: Path, data: bytes) -> None:
    """(Re)write a public file when its contents differ, atomically."""
    if path.exists() and path.read_bytes() == data:
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PUBLIC_FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, _PUBLIC_FILE_MODE)  # whatever the umask: the certificate is public
    os.replace(temporary, path)


def _load(path: Path) -> x509.Certificate:
    """The certificate of an existing key + certificate file, checked to match its key."""
    raw = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(raw, password=None)
        cert = x509.load_pem_x509_certificates(raw)[0]
    except (ValueError, TypeError) as error:
        raise CaError(
            f"{path} is not an unencrypted PEM key and certificate ({error}); "
            "move it away to create a new CA"
        ) from error
    if cert.public_key() != key.public_key():
        raise CaError(f"the key and the certificate in {path} do not match")
    return cert


def ensure_ca(
    confdir: Path,
    organization: str = "Veil",
    common_name: str = DEFAULT_COMMON_NAME,
    *,
    permitted_domains: Sequence[str] = (),
) -> CaFiles:
    """Create the CA files in ``confdir`` unless a CA already lives there.

    A new CA's common name gets a short random id (``"Veil local CA 3f9a1c"``) so a user can
    tell installs apart in their trust store. An existing CA is never replaced; only missing
    or stale certificate-only copies are rewritten from it.

    Raises:
        CaError: an existing ``mitmproxy-ca.pem`` is unreadable or its key and cert differ.
        OSError: ``confdir`` cannot be created or written.
    """
    confdir = Path(confdir).expanduser()
    key_path = confdir / f"{_BASENAME}-ca.pem"
    created = False
    with _secret_umask():
        confdir.mkdir(mode=_SECRET_DIR_MODE, parents=True, exist_ok=True)
        if not key_path.exists():
            unique_name = f"{common_name} {secrets.token_hex(3)}"
            key, cert = create_ca(organization, unique_name, permitted_domains=permitted_domains)
            secret = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ) + cert.public_bytes(serialization.Encoding.PEM)
            created = _write_exclusive(key_path, secret, _SECRET_FILE_MODE)
    if key_path.stat().st_mode & 0o077:
        os.chmod(key_path, _SECRET_FILE_MODE)  # someone loosened it: the key must stay private
    cert = _load(key_path)
    cert_pem = confdir / f"{_BASENAME}-ca-cert.pem"
    cert_der = confdir / f"{_BASENAME}-ca-cert.cer"
    _write_public(cert_pem, cert.public_bytes(serialization.Encoding.PEM))
    _write_public(cert_der, cert.public_bytes(serialization.Encoding.DER))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common = str(names[0].value) if names else ""
    return CaFiles(key_path, cert_pem, cert_der, fingerprint(cert), common, created)
