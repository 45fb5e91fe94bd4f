"""``connect_overrides``: where to connect for a host instead of what DNS says (local test
sites, a development server). An option of its own, as mitmproxy's addons declare theirs.

A decrypted request is pointed at its target before mitmproxy looks for an upstream
connection, with its Host header, authority and upstream TLS name kept: mitmproxy then
reuses the connection for the next request. Rewriting only the connection's address (in
``server_connect``) hid it from reuse: every request opened a new one, and the sixth waited
forever on mitmproxy's limit of five per address. Tunnels (no HTTP seen) still get the
address rewrite, one connection each.
"""

from __future__ import annotations

from collections.abc import Sequence

from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy import server_hooks

from proxy.flows import ASKED_HOST
from proxy.settings import parse_override

__all__ = ["ConnectOverride"]


class ConnectOverride:
    def __init__(self) -> None:
        self.targets: dict[str, tuple[str, int]] = {}
        # target -> the host whose request goes there next: the TLS name of a new connection
        self._names: dict[tuple[str, int], str] = {}

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "connect_overrides",
            Sequence[str],
            [],
            "Connect to IP:PORT instead of what DNS says for HOST; entries HOST=IP:PORT.",
        )

    def configure(self, updated: set[str]) -> None:
        if "connect_overrides" in updated:
            try:
                self.targets = dict(parse_override(spec) for spec in ctx.options.connect_overrides)
            except ValueError as error:
                raise exceptions.OptionsError(str(error)) from None
            self._names = {target: host for host, target in self.targets.items()}

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        target = self.targets.get(request.host.lower())
        if target is None:
            return
        flow.metadata[ASKED_HOST] = request.host  # the policy still answers for this name
        self._names[target] = request.host  # if it opens a connection, it asks for this name
        host_header, authority = request.headers.get("host"), request.authority
        request.host, request.port = target  # mitmproxy rewrites Host and authority to match
        if host_header is not None:
            request.headers["host"] = host_header
        request.authority = authority

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.address is None:
            return
        target = self.targets.get(str(data.server.address[0]).lower())
        if target is not None:  # a tunnel, or a connection opened before any request
            data.server.address = target
        name = self._names.get(data.server.address)
        if name is not None and data.server.sni in (None, data.server.address[0]):
            data.server.sni = name  # the site's certificate names the host, not the target
