"""The running proxy's CA: a policy change that protects a site outside the constraints
re-issues it, mitmproxy's cert store signs with the new one, and /health says trust must be
renewed (valid against the OpenAPI description)."""

from __future__ import annotations

import functools
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from mitmproxy.addons.tlsconfig import TlsConfig
from mitmproxy.test import taddons

from certs.ca import ensure_ca
from certs.history import mark_trusted
from certs.keeper import CaKeeper
from proxy.api import create_app
from proxy.apitypes import ApiConfig
from proxy.openapi import API_PREFIX, openapi_spec
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.service import use_new_ca
from proxy.store import Store
from tests.certs.test_ca import verify_for
from tests.proxy.schema_check import problems

TOKEN = secrets.token_urlsafe(32)
PORT = 8351
HEADERS = {"Host": f"127.0.0.1:{PORT}", "Authorization": f"Bearer {TOKEN}"}
NEW_SITE = "pixelfed.example"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "veil.db", seed_defaults=False)
    store.put_policy(Policy("*.example.social"))
    return store


def ca_cert(confdir: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((confdir / "mitmproxy-ca-cert.pem").read_bytes())


def test_a_new_site_renews_the_ca_once(tmp_path: Path, store: Store) -> None:
    keeper = CaKeeper(tmp_path / "ca", store.protected_sites)
    book = PolicyBook(store)
    book.on_reload(keeper.refresh)
    heard: list[str] = []
    keeper.on_new(lambda ca: heard.append(ca.fingerprint_sha256))
    first = keeper.ca.fingerprint_sha256
    store.put_policy(Policy("upload.example.social"))  # already covered
    book.reload()
    assert heard == [] and keeper.ca.fingerprint_sha256 == first
    store.put_policy(Policy(NEW_SITE))
    book.reload()
    assert heard == [keeper.ca.fingerprint_sha256] and heard[0] != first
    store.delete_policy(NEW_SITE)
    book.reload()  # fewer sites: the CA stays
    assert heard == [keeper.ca.fingerprint_sha256]


def test_a_key_lost_while_running_is_logged_and_the_ca_kept(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = CaKeeper(tmp_path / "ca", store.protected_sites)
    keeper.ca.key_and_cert.unlink()
    store.put_policy(Policy(NEW_SITE))
    with caplog.at_level(logging.ERROR):
        assert keeper.refresh() is False
    assert "veil certs renew" in caplog.text
    assert keeper.status()["fingerprint"] == keeper.ca.fingerprint_sha256


async def test_the_proxy_signs_with_the_new_ca_and_health_says_renew(
    tmp_path: Path, store: Store, aiohttp_client: Any
) -> None:
    confdir = tmp_path / "ca"
    keeper = CaKeeper(confdir, store.protected_sites)
    mark_trusted(confdir)  # as after `veil certs install`
    book = PolicyBook(store)
    book.on_reload(keeper.refresh)
    tlsconfig = TlsConfig()
    with taddons.context(tlsconfig) as tctx:
        tctx.configure(tlsconfig, confdir=str(confdir))
        keeper.on_new(functools.partial(use_new_ca, tlsconfig))
        config = ApiConfig(token=TOKEN, port=PORT, allowed_origins=())
        filters = [{"name": "metadata", "description": "Strip metadata"}]
        app = create_app(
            store, config, filters, on_policies_changed=book.reload, trust=keeper.status
        )
        client = await aiohttp_client(app, headers=HEADERS)
        spec = openapi_spec(config.version, PORT, 200)
        schema = spec["paths"]["/health"]["get"]["responses"]["200"]["content"]
        health = await (await client.get(API_PREFIX + "/health")).json()
        old = keeper.ca.fingerprint_sha256
        assert health["trust"] == {
            "fingerprint": old,
            "renew": False,
            "command": "veil certs install",
        }

        put = await client.put(API_PREFIX + f"/policies/{NEW_SITE}", json={"filters": ["metadata"]})
        assert put.status == 201
        health = await (await client.get(API_PREFIX + "/health")).json()
        assert health["trust"]["renew"] is True and health["trust"]["fingerprint"] != old
        assert problems(health, schema["application/json"]["schema"], spec) == []
        # mitmproxy's store now holds the new CA: its leaves for the new site verify.
        new = ca_cert(confdir)
        assert x509.load_pem_x509_certificate(tlsconfig.certstore.default_ca.to_pem()) == new
        entry = tlsconfig.certstore.get_cert(NEW_SITE, [x509.DNSName(NEW_SITE)])
        verify_for(new, x509.load_pem_x509_certificate(entry.cert.to_pem()), NEW_SITE)


def test_ensure_before_the_keeper_keeps_one_ca(tmp_path: Path, store: Store) -> None:
    # `veil certs install` ran first: `veil run` starts on the same CA.
    made = ensure_ca(tmp_path / "ca", sites=store.protected_sites())
    assert CaKeeper(tmp_path / "ca", store.protected_sites).ca.fingerprint_sha256 == (
        made.fingerprint_sha256
    )
