"""``connect_overrides``: where to connect for a host instead of what DNS says (local test
sites, a development server). An option of its own, as mitmproxy's addons declare theirs."""

from __future__ import annotations

from collections.abc import Sequence

from mitmproxy import ctx, exceptions
from mitmproxy.proxy import server_hooks

from proxy.settings import parse_override

__all__ = ["ConnectOverride"]


class ConnectOverride:
    def __init__(self) -> None:
        self.targets: dict[str, tuple[str, int]] = {}

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

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.address is None:
            return
        target = self.targets.get(str(data.server.address[0]).lower())
        if target is not None:
            data.server.address = target
