"""End to end: Ctrl-C (SIGINT) and SIGTERM stop a real `veil run` that a browser holds
connections through, within a second or two, with exit code 0, no traceback, the
connections closed and the database closed cleanly."""

from __future__ import annotations

import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.shutdown import CLOSE_TIMEOUT_S
from tests.e2e import Upstream, VeilProcess, serve_site, start_veil

pytestmark = pytest.mark.e2e

PROTECTED = "photos.shutdown-test.example"  # intercepted: TLS with Veil's CA
TUNNELLED = "plain.shutdown-test.example"  # passed through: TLS with the site's own CA
# "A second or two": the connections get CLOSE_TIMEOUT_S, the interpreter's exit the rest.
STOP_BUDGET_S = 2.5


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [PROTECTED, TUNNELLED])


@pytest.fixture
def veil(tmp_path: Path, site: Upstream) -> Iterator[VeilProcess]:
    process = start_veil(tmp_path / "home", site, {PROTECTED: ["metadata"]}, hosts=[TUNNELLED])
    yield process
    process.stop()


def _connect(veil: VeilProcess, host: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", veil.proxy_port), timeout=10)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    return sock


def _keep_alive(veil: VeilProcess, site: Upstream, host: str) -> ssl.SSLSocket:
    """A TLS connection through the proxy that has made one request and stays open, as a
    browser's does."""
    context = ssl.create_default_context(cafile=str(veil.ca_cert))
    context.load_verify_locations(cafile=str(site.ca))  # type: ignore[attr-defined]
    tls = context.wrap_socket(_connect(veil, host), server_hostname=host)
    tls.sendall(f"GET /hello HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    assert tls.recv(4096).startswith(b"HTTP/1.1 200")
    return tls


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closed ``sock`` (what is left of a response read first)."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionError, ssl.SSLError):
        pass
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_with_held_connections_is_quick_and_clean(
    veil: VeilProcess, site: Upstream, signum: signal.Signals
) -> None:
    held: list[socket.socket] = [
        _keep_alive(veil, site, PROTECTED),
        _keep_alive(veil, site, PROTECTED),
        _keep_alive(veil, site, TUNNELLED),
        _connect(veil, "idle.shutdown-test.example"),  # a CONNECT with nothing after it
        socket.create_connection(("127.0.0.1", veil.proxy_port)),  # not a word sent
    ]
    assert veil.process is not None
    started = time.monotonic()
    veil.process.send_signal(signum)
    code = veil.process.wait(30)
    elapsed = time.monotonic() - started
    log = veil.log()

    assert code == 0, log
    assert elapsed < STOP_BUDGET_S, f"took {elapsed:.2f} s (connections get {CLOSE_TIMEOUT_S} s)"
    assert "Traceback" not in log and "CancelledError" not in log, log
    assert all(_closed_by_peer(sock) for sock in held)
    # SQLite folds its write-ahead log into the database when the last connection closes.
    assert not (veil.home / "veil.db-wal").exists()
    for sock in held:
        sock.close()
