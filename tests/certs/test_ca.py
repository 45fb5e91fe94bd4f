"""The per-install CA: its extensions, its files and modes, and mitmproxy signing with it."""

from __future__ import annotations

import datetime
import importlib
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from mitmproxy.certs import CertStore

import certs
from certs import ca
from certs.ca import CA_VALIDITY, CaError, create_ca, ensure_ca, fingerprint


@pytest.fixture(scope="module")
def made_ca(tmp_path_factory: pytest.TempPathFactory) -> ca.CaFiles:
    return ensure_ca(tmp_path_factory.mktemp("home") / "veil")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_ca_extensions() -> None:
    key, cert = create_ca("Veil", "Veil test CA")
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Veil test CA"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Veil"
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert cert.public_key() == key.public_key() and key.key_size == 2048
    cert.verify_directly_issued_by(cert)  # self-signed
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now == pytest.approx(CA_VALIDITY, abs=datetime.timedelta(1))


def test_create_ca_name_constraints() -> None:
    _, cert = create_ca("Veil", "Veil test CA", sites=["mastodon.social", "*.bsky.app"])
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = [name.value for name in constraints.value.permitted_subtrees or []]
    assert permitted == ["mastodon.social", "bsky.app"]
    assert len(constraints.value.excluded_subtrees or []) == 2  # every IPv4 and IPv6 literal
    _, plain = create_ca("Veil", "Veil test CA")
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.NameConstraints)


@pytest.mark.parametrize(
    ("organization", "common_name", "key_size"), [("Veil", "x", 1024), ("", "x", 2048)]
)
def test_create_ca_rejects_bad_input(organization: str, common_name: str, key_size: int) -> None:
    with pytest.raises(ValueError):
        create_ca(organization, common_name, key_size)


def test_ensure_ca_writes_files_with_safe_modes(made_ca: ca.CaFiles) -> None:
    confdir = made_ca.key_and_cert.parent
    assert made_ca.created
    assert made_ca.key_and_cert.name == "mitmproxy-ca.pem"
    assert made_ca.cert_pem.name == "mitmproxy-ca-cert.pem"
    assert made_ca.cert_der.name == "mitmproxy-ca-cert.cer"
    assert mode(confdir) == 0o700
    assert mode(made_ca.key_and_cert) == 0o600
    assert mode(made_ca.cert_pem) & 0o777 == 0o644
    assert sorted(p.name for p in confdir.iterdir()) == sorted(
        [
            made_ca.key_and_cert.name,
            made_ca.cert_pem.name,
            made_ca.cert_der.name,
            ".lock",
            "trust-pending",
        ]
    )  # no temporary file left behind


def test_files_hold_one_matching_ca(made_ca: ca.CaFiles) -> None:
    raw = made_ca.key_and_cert.read_bytes()
    key = serialization.load_pem_private_key(raw, password=None)
    cert = x509.load_pem_x509_certificate(made_ca.cert_pem.read_bytes())
    assert x509.load_pem_x509_certificates(raw) == [cert]
    assert x509.load_der_x509_certificate(made_ca.cert_der.read_bytes()) == cert
    assert b"PRIVATE KEY" not in made_ca.cert_pem.read_bytes()
    assert cert.public_key() == key.public_key()
    assert made_ca.fingerprint_sha256 == fingerprint(cert)
    assert len(made_ca.fingerprint_sha256.split(":")) == 32


def test_common_name_is_unique_per_install(tmp_path: Path, made_ca: ca.CaFiles) -> None:
    other = ensure_ca(tmp_path / "other")
    assert made_ca.common_name.startswith("Veil local CA ")
    assert other.common_name.startswith("Veil local CA ")
    assert other.common_name != made_ca.common_name
    assert other.fingerprint_sha256 != made_ca.fingerprint_sha256


def test_second_call_keeps_the_same_ca(made_ca: ca.CaFiles) -> None:
    confdir = made_ca.key_and_cert.parent
    secret = made_ca.key_and_cert.read_bytes()
    again = ensure_ca(confdir)
    assert not again.created
    assert again.fingerprint_sha256 == made_ca.fingerprint_sha256
    assert made_ca.key_and_cert.read_bytes() == secret


def test_missing_or_stale_public_copies_are_rewritten(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path / "veil")
    pem, der = files.cert_pem.read_bytes(), files.cert_der.read_bytes()
    files.cert_pem.unlink()
    files.cert_der.write_bytes(b"stale")
    files.key_and_cert.chmod(0o644)
    again = ensure_ca(tmp_path / "veil")
    assert (again.cert_pem.read_bytes(), again.cert_der.read_bytes()) == (pem, der)
    assert mode(again.key_and_cert) == 0o600  # loosened permissions are tightened back


def test_concurrent_first_calls_agree_on_one_ca(tmp_path: Path) -> None:
    # Processes, as two `veil run` started together would be; each makes a key, one wins.
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.map(ensure_ca, [tmp_path / "veil"] * 3)
    assert len({result.fingerprint_sha256 for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert ensure_ca(tmp_path / "veil").fingerprint_sha256 == results[0].fingerprint_sha256


def test_umask_is_restored(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        ensure_ca(tmp_path / "veil")
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)


@pytest.mark.parametrize("content", [b"garbage", b""])
def test_unusable_existing_ca_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "mitmproxy-ca.pem").write_bytes(content)
    with pytest.raises(CaError, match="move it away"):
        ensure_ca(tmp_path)
    assert (tmp_path / "mitmproxy-ca.pem").read_bytes() == content  # never replaced


def test_mismatched_key_and_cert_is_refused(tmp_path: Path) -> None:
    key, _ = create_ca("Veil", "a")
    _, cert = create_ca("Veil", "b")
    (tmp_path / "mitmproxy-ca.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(CaError, match="do not match"):
        ensure_ca(tmp_path)


def mitmproxy_leaf(confdir: Path, host: str) -> x509.Certificate:
    """The certificate mitmproxy forges for ``host`` with the CA in ``confdir``."""
    store = CertStore.from_store(confdir, "mitmproxy", 2048)
    entry = store.get_cert(host, [x509.DNSName(host)])
    return x509.load_pem_x509_certificate(entry.cert.to_pem())


def verify_for(ca_cert: x509.Certificate, leaf: x509.Certificate, host: str) -> None:
    """Full web-PKI path validation, as a browser would do it (name constraints included)."""
    verifier = PolicyBuilder().store(Store([ca_cert])).build_server_verifier(x509.DNSName(host))
    verifier.verify(leaf, [])


def test_mitmproxy_signs_leaves_with_our_ca(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path / "veil", sites=["*.example.social"])
    ours = x509.load_pem_x509_certificate(files.cert_pem.read_bytes())
    store = CertStore.from_store(tmp_path / "veil", "mitmproxy", 2048)
    assert x509.load_pem_x509_certificate(store.default_ca.to_pem()) == ours  # not its own CA
    leaf = mitmproxy_leaf(tmp_path / "veil", "upload.example.social")
    leaf.verify_directly_issued_by(ours)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["upload.example.social"]
    verify_for(ours, leaf, "upload.example.social")
    with pytest.raises(VerificationError):
        verify_for(ours, leaf, "other.example")


def test_name_constrained_ca_forges_only_permitted_hosts(tmp_path: Path) -> None:
    files = ensure_ca(tmp_path / "veil", sites=["mastodon.social", "*.bsky.app"])
    ours = x509.load_pem_x509_certificate(files.cert_pem.read_bytes())
    for host in ("mastodon.social", "files.mastodon.social", "bsky.app", "cdn.bsky.app"):
        verify_for(ours, mitmproxy_leaf(tmp_path / "veil", host), host)
    with pytest.raises(VerificationError, match="name constraint"):
        verify_for(ours, mitmproxy_leaf(tmp_path / "veil", "bank.example"), "bank.example")


@pytest.mark.parametrize(
    "name",
    ["ca", "commands", "constraints", "errors", "files", "history", "keeper", "nss", "system",
     "trust"],
)  # fmt: skip
def test_public_surface_matches_all(name: str) -> None:
    module = importlib.import_module(f"certs.{name}")
    for surface in (certs, module):
        exported = {name for name in vars(surface) if not name.startswith("_")}
        assert set(surface.__all__) <= exported
    own = {n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__}
    assert {n for n in own if not n.startswith("_")} <= set(module.__all__)
