"""Unprotected sites pass as undecrypted TLS tunnels; a tunnel whose site becomes protected
is closed, so that its next upload is seen.

A connection is tunnelled only when no name the client gave is protected: the CONNECT
target and the TLS SNI may disagree (domain fronting, an ECH outer name), and a protected
one among them means decrypt, never tunnel. The requests inside are then matched on every
name too (``proxy.flows.flow_hosts``)."""

from __future__ import annotations

import logging

from mitmproxy import connection, ctx, tls

from proxy.policybook import PolicyBook

__all__ = ["TlsPassthrough"]

log = logging.getLogger(__name__)


class TlsPassthrough:
    def __init__(self, book: PolicyBook) -> None:
        self.book = book
        # client connection id -> the names of a connection passed through
        self._tunnels: dict[str, tuple[str, ...]] = {}
        book.on_reload(self._close_tunnels_now_protected)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        server_address = data.context.server.address
        names = (data.client_hello.sni, server_address[0] if server_address else None)
        if self.book.policy_for(*names) is None:
            # No name is protected: pass the TLS through untouched, never decrypted.
            data.ignore_connection = True
            self._tunnels[data.context.client.id] = tuple(name for name in names if name)

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)

    def _close_tunnels_now_protected(self) -> None:
        # A tunnel opened while its host was unprotected would carry the next upload unseen.
        stale = {cid for cid, names in self._tunnels.items() if self.book.policy_for(*names)}
        if not stale:
            return
        proxyserver = ctx.master.addons.get("proxyserver")
        if proxyserver is None:  # no proxy server running the connections (unit tests)
            return
        for handler in list(proxyserver.connections.values()):
            if handler.client.id in stale:
                log.info(
                    "closing the tunnel to %s: it is protected now",
                    ", ".join(self._tunnels[handler.client.id]),
                )
                transport = handler.transports.get(handler.client)
                if transport is not None and transport.writer is not None:
                    transport.writer.close()
