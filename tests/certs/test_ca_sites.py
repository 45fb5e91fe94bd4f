"""The CA follows the protected sites: OpenSSL holds mitmproxy's leaves to its constraints, a
new site outside them takes a new CA (the old certificate kept aside), a lost key is an error
that says what to do, and ``renew_ca`` makes a new CA whatever is left."""

from __future__ import annotations

import contextlib
import ipaddress
import multiprocessing
import ssl
import stat
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mitmproxy.certs import CertStore

from certs.ca import CaError, create_ca, ensure_ca, renew_ca
from certs.history import known_cas, mark_trusted, superseded_certs, trust_pending

SITES = ["*.example.social", "bsky.social", "10.0.0.5"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def handshake(
    ca_pem: Path, confdir: Path, server_name: str, sans: list[x509.GeneralName], cn: str | None
) -> None:
    """A TLS handshake in memory: Python's ssl (OpenSSL) as the client, trusting only
    ``ca_pem``, against the leaf mitmproxy makes from the CA in ``confdir``.

    Raises:
        ssl.SSLCertVerificationError: OpenSSL refused the leaf.
    """
    entry = CertStore.from_store(confdir, "mitmproxy", 2048).get_cert(cn, sans)
    leaf = confdir.parent / "leaf.pem"
    leaf.write_bytes(
        entry.cert.to_pem()
        + entry.privatekey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(leaf)
    client_context = ssl.create_default_context(cafile=str(ca_pem))
    buffers = [ssl.MemoryBIO() for _ in range(4)]
    client = client_context.wrap_bio(buffers[0], buffers[1], server_hostname=server_name)
    server = server_context.wrap_bio(buffers[2], buffers[3], server_side=True)
    for _ in range(8):  # a TLS 1.3 handshake takes two round trips
        pairs = ((client, buffers[1], buffers[2]), (server, buffers[3], buffers[0]))
        for side, outgoing, incoming in pairs:
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            incoming.write(outgoing.read())
    client.do_handshake()  # raises if it never completed


def dns(host: str) -> list[x509.GeneralName]:
    return [x509.DNSName(host)]


@pytest.fixture(scope="module")
def site_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    confdir = tmp_path_factory.mktemp("openssl") / "ca"
    ensure_ca(confdir, sites=SITES)
    return confdir


@pytest.mark.parametrize("host", ["example.social", "upload.example.social", "bsky.social"])
def test_openssl_accepts_a_leaf_for_a_protected_name(site_ca: Path, host: str) -> None:
    handshake(site_ca / "mitmproxy-ca-cert.pem", site_ca, host, dns(host), host)


@pytest.mark.parametrize("host", ["bank.example", "example.socialx", "bsky.socialx.com"])
def test_openssl_rejects_a_leaf_from_the_same_ca_for_another_name(site_ca: Path, host: str) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
        handshake(site_ca / "mitmproxy-ca-cert.pem", site_ca, host, dns(host), host)


def test_openssl_holds_ip_sites_to_their_one_address(site_ca: Path) -> None:
    ca = site_ca / "mitmproxy-ca-cert.pem"
    address = [x509.IPAddress(ipaddress.ip_address("10.0.0.5"))]
    handshake(ca, site_ca, "10.0.0.5", address, None)
    other = [x509.IPAddress(ipaddress.ip_address("10.0.0.6"))]
    with pytest.raises(ssl.SSLCertVerificationError, match="subtree violation"):
        handshake(ca, site_ca, "10.0.0.6", other, None)


def test_fewer_sites_keep_the_ca(tmp_path: Path) -> None:
    first = ensure_ca(tmp_path / "ca", sites=SITES)
    again = ensure_ca(tmp_path / "ca", sites=SITES[:1])
    assert not again.created and again.fingerprint_sha256 == first.fingerprint_sha256


def test_a_site_outside_the_constraints_takes_a_new_ca(tmp_path: Path) -> None:
    confdir = tmp_path / "ca"
    first = ensure_ca(confdir, sites=SITES)
    old_key = first.key_and_cert.read_bytes()
    mark_trusted(confdir)
    grown = ensure_ca(confdir, sites=[*SITES, "pixelfed.example"])
    assert grown.created and grown.fingerprint_sha256 != first.fingerprint_sha256
    assert grown.common_name != first.common_name  # a new unique name for the trust stores
    assert grown.key_and_cert.read_bytes() != old_key  # a new key, and the old one is gone
    assert grown.replaced is not None and superseded_certs(confdir) == [grown.replaced]
    kept = x509.load_pem_x509_certificate(grown.replaced.read_bytes())
    assert f"CN={first.common_name}" in kept.subject.rfc4514_string()
    assert b"PRIVATE KEY" not in grown.replaced.read_bytes()
    assert trust_pending(confdir)  # until `veil certs install`
    assert mode(confdir) == 0o700 and mode(grown.key_and_cert) == 0o600
    assert mode(grown.replaced.parent) == 0o700
    # The public copies are the new CA's, and it signs for the new site.
    signing = x509.load_pem_x509_certificates(grown.key_and_cert.read_bytes())[0]
    assert x509.load_pem_x509_certificate(grown.cert_pem.read_bytes()) == signing
    handshake(grown.cert_pem, confdir, "pixelfed.example", dns("pixelfed.example"), None)
    current, old = known_cas(confdir)
    assert current is not None and current.nickname == grown.common_name
    assert [ca.nickname for ca in old] == [first.common_name]


def test_an_unconstrained_ca_is_replaced(tmp_path: Path) -> None:
    key, cert = create_ca("Veil", "Veil local CA 0a0a0a")  # as Veil made them before
    confdir = tmp_path / "ca"
    confdir.mkdir(mode=0o700)
    secret = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (confdir / "mitmproxy-ca.pem").write_bytes(
        secret + cert.public_bytes(serialization.Encoding.PEM)
    )
    made = ensure_ca(confdir, sites=SITES)
    assert made.created and made.replaced is not None
    assert x509.load_pem_x509_certificate(made.replaced.read_bytes()) == cert


def test_concurrent_growth_makes_one_new_ca(tmp_path: Path) -> None:
    confdir = tmp_path / "ca"
    ensure_ca(confdir, sites=SITES)
    grow = partial(ensure_ca, sites=[*SITES, "new.example"])
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.map(grow, [confdir] * 3)
    assert len({result.fingerprint_sha256 for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert len(superseded_certs(confdir)) == 1


def test_a_missing_key_is_an_error_never_a_silent_new_ca(tmp_path: Path) -> None:
    confdir = tmp_path / "ca"
    made = ensure_ca(confdir, sites=SITES)
    cert = made.cert_pem.read_bytes()
    made.key_and_cert.unlink()
    with pytest.raises(CaError, match=r"key .*mitmproxy-ca\.pem is missing.*veil certs renew"):
        ensure_ca(confdir, sites=SITES)
    assert not made.key_and_cert.exists() and made.cert_pem.read_bytes() == cert


def test_renew_replaces_a_ca_whose_key_is_lost(tmp_path: Path) -> None:
    confdir = tmp_path / "ca"
    made = ensure_ca(confdir, sites=SITES)
    mark_trusted(confdir)
    lost = made.cert_pem.read_bytes()
    made.key_and_cert.unlink()
    renewed = renew_ca(confdir, sites=SITES)
    assert renewed.created and renewed.fingerprint_sha256 != made.fingerprint_sha256
    assert renewed.replaced is not None
    assert renewed.replaced.read_bytes() == lost  # so that its trust can be removed
    assert mode(renewed.key_and_cert) == 0o600 and trust_pending(confdir)
    assert ensure_ca(confdir, sites=SITES).fingerprint_sha256 == renewed.fingerprint_sha256


def test_renew_with_nothing_left_makes_a_first_ca(tmp_path: Path) -> None:
    renewed = renew_ca(tmp_path / "ca", sites=SITES)
    assert renewed.created and renewed.replaced is None
