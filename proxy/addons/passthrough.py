"""Unprotected sites pass as undecrypted TLS tunnels; a tunnel whose site becomes protected
is closed, so that its next upload is seen."""

from __future__ import annotations

import logging

from mitmproxy import connection, ctx, tls

from proxy.policybook import PolicyBook

__all__ = ["TlsPassthrough"]

log = logging.getLogger(__name__)


class TlsPassthrough:
    def __init__(self, book: PolicyBook) -> None:
        self.book = book
        self._tunnels: dict[str, str] = {}  # client connection id -> host passed through
        book.on_reload(self._close_tunnels_now_protected)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        server_address = data.context.server.address
        host = data.client_hello.sni or (server_address[0] if server_address else None)
        if self.book.policy_for(host) is None:
            # Not protected: pass the TLS through untouched, never decrypted.
            data.ignore_connection = True
            self._tunnels[data.context.client.id] = host or ""

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)

    def _close_tunnels_now_protected(self) -> None:
        # A tunnel opened while its host was unprotected would carry the next upload unseen.
        stale = {cid for cid, host in self._tunnels.items() if self.book.policy_for(host)}
        if not stale:
            return
        proxyserver = ctx.master.addons.get("proxyserver")
        if proxyserver is None:  # no proxy server running the connections (unit tests)
            return
        for handler in list(proxyserver.connections.values()):
            if handler.client.id in stale:
                log.info(
                    "closing the tunnel to %s: it is protected now",
                    self._tunnels[handler.client.id],
                )
                transport = handler.transports.get(handler.client)
                if transport is not None and transport.writer is not None:
                    transport.writer.close()
