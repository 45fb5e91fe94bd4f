"""proxy/addons/connect.py: connect_overrides, an option of its own."""

from __future__ import annotations

import pytest
from mitmproxy import connection, exceptions
from mitmproxy.proxy import server_hooks
from mitmproxy.test import taddons, tflow

from proxy.addons.connect import ConnectOverride
from proxy.settings import parse_override


@pytest.mark.parametrize("spec", ["", "host", "host=", "=1.2.3.4:5", "host=1.2.3.4", "h=1.2.3.4:x"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(ValueError, match="host=ip:port"):
        parse_override(spec)


def server_for(host: str) -> server_hooks.ServerConnectionHookData:
    server = connection.Server(address=(host, 443))
    return server_hooks.ServerConnectionHookData(server, tflow.tclient_conn())


def test_the_option_redirects_connections_to_listed_hosts_only():
    addon = ConnectOverride()
    with taddons.context(addon) as tctx:
        tctx.configure(
            addon, connect_overrides=["Photos.Example=127.0.0.1:8443", "v6.example=[::1]:9"]
        )
        listed, other, v6 = (
            server_for("photos.example"),
            server_for("other.example"),
            server_for("v6.example"),
        )
        for data in (listed, other, v6):
            addon.server_connect(data)
        with pytest.raises(exceptions.OptionsError, match="host=ip:port"):
            tctx.configure(addon, connect_overrides=["nonsense"])
    assert listed.server.address == ("127.0.0.1", 8443)
    assert other.server.address == ("other.example", 443)
    assert v6.server.address == ("::1", 9)


def test_a_request_goes_to_the_target_under_its_own_name_so_its_connection_is_reused():
    addon = ConnectOverride()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, connect_overrides=["photos.example=127.0.0.1:8443"])
        flows = [tflow.tflow() for _ in range(2)]
        for flow in flows:
            flow.request.host, flow.request.port = "photos.example", 443
            flow.request.headers["host"] = "photos.example"
            addon.requestheaders(flow)
        data = server_for("127.0.0.1")
        data.server.address = ("127.0.0.1", 8443)
        data.server.sni = "127.0.0.1"  # what mitmproxy's HTTP layer sets from the address
        addon.server_connect(data)
    # The same address for both: mitmproxy matches connections by it and reuses the first.
    assert {(f.request.host, f.request.port) for f in flows} == {("127.0.0.1", 8443)}
    assert {f.request.headers["host"] for f in flows} == {"photos.example"}
    assert data.server.sni == "photos.example"
