"""proxy/addons/passthrough.py: unprotected sites stay undecrypted tunnels."""

from __future__ import annotations

from types import SimpleNamespace

from mitmproxy import tls
from mitmproxy.proxy import context
from mitmproxy.test import taddons, tflow

from proxy.addons.passthrough import TlsPassthrough
from proxy.policies import Policy
from tests.proxy.addons.conftest import SITE


def hello(sni: str | None, address: str | None, options) -> tls.ClientHelloData:  # type: ignore[no-untyped-def]
    ctx = context.Context(tflow.tclient_conn(), options)
    ctx.server.address = (address, 443) if address else None
    return tls.ClientHelloData(ctx, SimpleNamespace(sni=sni))  # type: ignore[arg-type]


def test_only_protected_hosts_are_decrypted(book):
    addon = TlsPassthrough(book)
    with taddons.context(addon) as tctx:
        protected = hello(SITE, SITE, tctx.options)
        addon.tls_clienthello(protected)
        other = hello("elsewhere.example", "elsewhere.example", tctx.options)
        addon.tls_clienthello(other)
        # No SNI (an IP literal): the CONNECT target decides.
        bare = hello(None, SITE, tctx.options)
        addon.tls_clienthello(bare)
    assert protected.ignore_connection is False and bare.ignore_connection is False
    assert other.ignore_connection is True


def test_a_tunnel_is_forgotten_when_its_client_leaves_and_survives_a_reload(book, store):
    addon = TlsPassthrough(book)
    with taddons.context(addon) as tctx:
        data = hello("later.example", "later.example", tctx.options)
        addon.tls_clienthello(data)
        assert data.ignore_connection
        store.put_policy(Policy(site="later.example"))
        book.reload()  # no proxy server in a unit test: nothing to close, and no error
        assert addon.book.policy_for("later.example") is not None
        addon.client_disconnected(data.context.client)
        assert addon._tunnels == {}
