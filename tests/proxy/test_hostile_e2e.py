"""Hostile clients against a real `veil run`: names that disagree, image data where none is
expected, secrets in malformed requests. The original never leaves a protected site, and no
secret reaches the log."""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import IFD_GPS, jpeg_with_private_metadata, photo_path
from tests.e2e import Upstream, VeilProcess, serve_site, start_veil
from tests.proxy.hostile import hostile_cases

pytestmark = pytest.mark.e2e

PROTECTED = "photos.hostile-test.example"
UNPROTECTED = "plain.hostile-test.example"
SERIAL = b"082021001234"  # the camera serial the test photo carries


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [PROTECTED, UNPROTECTED])


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[VeilProcess]:
    process = start_veil(
        tmp_path_factory.mktemp("veil-home"),
        upstream,
        {PROTECTED: ["metadata"]},
        hosts=[UNPROTECTED],
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(160, 120))


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def raw_upload(veil: VeilProcess, connect: str, sni: str, host: str, path: str, body: bytes) -> int:
    """PUT ``body`` through a CONNECT to ``connect`` with TLS SNI ``sni`` and Host ``host``,
    as a client that fronts one name with another would; returns the status, 0 if cut."""
    with socket.create_connection(("127.0.0.1", veil.proxy_port), timeout=60) as sock:
        sock.sendall(f"CONNECT {connect}:443 HTTP/1.1\r\nHost: {connect}:443\r\n\r\n".encode())
        assert b" 200 " in _read_head(sock).split(b"\r\n")[0]
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # a fronting client checks nothing
        with context.wrap_socket(sock, server_hostname=sni) as tls:
            head = (
                f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            tls.sendall(head.encode() + body)
            try:
                status_line = _read_head(tls).split(b"\r\n")[0]
            except (ssl.SSLError, ConnectionError):
                return 0
    return int(status_line.split()[1]) if status_line else 0


def assert_no_original(upstream: Upstream, path: str, photo: bytes) -> None:
    for body in upstream.bodies(path):
        assert body != photo and SERIAL not in body
        assert not Image.open(io.BytesIO(body)).getexif().get_ifd(IFD_GPS)


@pytest.mark.parametrize(
    ("connect", "sni", "host"),
    [
        (PROTECTED, UNPROTECTED, PROTECTED),  # tunnelled on the SNI alone before
        (UNPROTECTED, PROTECTED, PROTECTED),
        (PROTECTED, UNPROTECTED, UNPROTECTED),
    ],
    ids=["sni-fronted", "connect-fronted", "host-and-sni-fronted"],
)
def test_names_that_disagree_never_tunnel_a_protected_upload(
    veil: VeilProcess, upstream: Upstream, photo: bytes, connect: str, sni: str, host: str
) -> None:
    path = f"/upload/fronted-{connect[:5]}-{sni[:5]}-{host[:5]}"
    status = raw_upload(veil, connect, sni, host, path, photo)
    assert status in (200, 403), status
    assert_no_original(upstream, path, photo)
    if status == 200:
        assert len(upstream.bodies(path)) == 1
        assert veil.audit(host, path)[0]["outcome"] == "protected"


@pytest.mark.parametrize(
    "name",
    [
        "raw JPEG 2000",
        "raw JPEG XL",
        "part body starting with CRLF",
        "nested multipart/mixed",
        "JSON part with a data URL",
    ],
)
def test_image_data_veil_cannot_protect_is_blocked(
    veil: VeilProcess, upstream: Upstream, photo: bytes, name: str
) -> None:
    case = next(case for case in hostile_cases(photo) if case.name == name)
    path = "/upload/hostile-" + name.replace(" ", "-").replace("/", "-")
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    with veil.client() as client:
        response = client.post(f"https://{PROTECTED}{path}", content=case.body, headers=headers)
    assert response.status_code == 403 and "Veil blocked" in response.text
    assert upstream.bodies(path) == []
    assert veil.audit(PROTECTED, path)[0]["outcome"] == "blocked"


def test_a_malformed_header_never_puts_the_token_in_the_log(veil: VeilProcess) -> None:
    request = (
        f"GET /api/v1/policies HTTP/1.1\r\nHost: 127.0.0.1:{veil.api_port}\r\n"
        f"Authorization: Bearer {veil.token}\x00\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", veil.api_port), timeout=10) as sock:
        sock.sendall(request)
        assert b" 400 " in sock.recv(65536).split(b"\r\n")[0]
    assert veil.api("GET", "/health").status_code == 200
    assert veil.token not in veil.log()


def test_every_file_in_the_home_is_private(veil: VeilProcess) -> None:
    home = Path(veil.home)
    for path in [home, *home.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        if path.is_dir():
            assert mode == 0o700, path
        elif path.name.startswith("mitmproxy-ca-cert"):
            assert mode == 0o644, path  # the certificate to trust is public
        else:
            assert mode == 0o600, path


def test_one_keep_alive_connection_carries_many_requests(veil: VeilProcess) -> None:
    # connect_overrides once opened an upstream connection per request; the sixth hung.
    with veil.client() as client:
        statuses = [
            client.get(f"https://{PROTECTED}/keep-alive/{i}").status_code for i in range(12)
        ]
    assert statuses == [200] * 12
