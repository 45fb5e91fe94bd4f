"""proxy/addons/passthrough.py: unprotected sites stay undecrypted tunnels."""

from __future__ import annotations

from types import SimpleNamespace

from mitmproxy import tls
from mitmproxy.proxy import context
from mitmproxy.test import taddons, tflow

from proxy.addons.passthrough import TlsPassthrough
from proxy.flows import flow_hosts
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


def test_a_protected_name_anywhere_means_decrypt_never_tunnel(book):
    addon = TlsPassthrough(book)
    with taddons.context(addon) as tctx:
        # CONNECT to the protected site, an unprotected SNI (domain fronting, an ECH outer
        # name): tunnelling it let the original through with no audit row.
        fronted = hello("elsewhere.example", SITE, tctx.options)
        addon.tls_clienthello(fronted)
        # And the other way round: CONNECT elsewhere, SNI of the protected site.
        hidden = hello(SITE, "elsewhere.example", tctx.options)
        addon.tls_clienthello(hidden)
    assert fronted.ignore_connection is False and hidden.ignore_connection is False
    assert addon._tunnels == {}


def test_a_request_is_protected_when_any_of_its_names_is():
    flow = tflow.tflow()
    flow.request.host, flow.request.headers["host"] = "elsewhere.example", "elsewhere.example"
    flow.client_conn.sni = SITE
    assert SITE in flow_hosts(flow) and "elsewhere.example" in flow_hosts(flow)
