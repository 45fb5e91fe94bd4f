"""A clean stop of `veil run` on SIGINT or SIGTERM: no new connections, the open ones closed,
then mitmproxy's own shutdown (the addons' ``done``), within a second or two.

mitmproxy leaves the client connections a browser keeps alive to ``asyncio.run``, which
cancels them; on Python 3.11 each cancelled one prints a ``CancelledError`` traceback
(``StreamReaderProtocol``'s done callback asks a cancelled task for its exception; 3.12
checks first). Closing them first lets their handlers end as mitmproxy means them to,
"client disconnect" hooks included, and :func:`quiet_cancelled` keeps a straggler silent.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from mitmproxy.master import Master

__all__ = ["CLOSE_TIMEOUT_S", "GracefulStop", "close_connections", "quiet_cancelled"]

log = logging.getLogger(__name__)

# Closing an idle keep-alive connection takes milliseconds; one that is mid-upload is cut
# after this, so that a stop never waits on a browser.
CLOSE_TIMEOUT_S = 1.0
POLL_S = 0.02


async def close_connections(master: Master, timeout_s: float = CLOSE_TIMEOUT_S) -> int:
    """Stop listening, end every client connection's handler, and wait up to ``timeout_s``
    for them to finish; how many were open."""
    proxyserver = master.addons.get("proxyserver")
    await proxyserver.servers.update([])  # no new connections while the old ones close
    handlers = list(proxyserver.connections.values())
    for handler in handlers:
        io = handler.transports.get(handler.client)
        if io is not None and io.handler is not None:
            io.handler.cancel()  # handle_client then closes the sockets and runs its hooks
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while proxyserver.connections and loop.time() < deadline:
        await asyncio.sleep(POLL_S)
    if proxyserver.connections:
        log.info("%d connections still closing at shutdown", len(proxyserver.connections))
    return len(handlers)


class GracefulStop:
    """The SIGINT/SIGTERM handler: the first signal closes the connections, then shuts the
    master down; a second one shuts it down at once."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self._task: asyncio.Task[None] | None = None

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request)

    def request(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._stop())
        else:
            self.master.shutdown()

    async def _stop(self) -> None:
        try:
            await close_connections(self.master)
        finally:
            self.master.shutdown()


def quiet_cancelled(loop: asyncio.AbstractEventLoop) -> None:
    """From now on, drop the loop's reports of tasks cancelled at exit; report the rest."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
