"""Pieces shared by the platform-shape e2e tests: a site that answers like the platforms do,
a `veil run` protecting all of them, and the checks made on what arrives."""

from __future__ import annotations

import hashlib
import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from tests.conftest import IFD_GPS, jpeg_with_private_metadata, photo_path
from tests.e2e import Received, Upstream, VeilProcess, serve_site, start_veil

DOMAIN = "veil-test.example"
HOSTS = {
    "mastodon": f"social.{DOMAIN}",
    "bluesky": f"pds.{DOMAIN}",
    "imgur": f"api.imgur.{DOMAIN}",
    "reddit": f"reddit-uploaded-media.s3-accelerate.{DOMAIN}",
    "telegram": f"api.telegram.{DOMAIN}",
    "instagram": f"i.instagram.{DOMAIN}",
    "x": f"upload.x.{DOMAIN}",
    "facebook": f"graph.facebook.{DOMAIN}",
    "discord": f"discord-attachments-uploads-prd.storage.{DOMAIN}",
    "plain": f"plain.{DOMAIN}",
}
# Every protected test platform strips metadata and runs P-FGSM: the arriving file must be
# the rewritten one, its pixels changed (and, where the size was announced, its length kept).
PIXEL_FILTERS = ["metadata", "pfgsm"]
X_MEDIA_ID = "1146654567674912769"
FB_SESSION = "upload:MTphdHRhY2htZW50OjZiMGNmNjQy"
SERIAL = b"082021001234"  # the camera serial jpeg_with_private_metadata writes


class PlatformSite(Upstream):
    """The test upstream, answering the requests that start an upload as the platforms do;
    ``/stream/`` paths are counted and hashed, never held, so a 1 GB body costs nothing."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.streamed: dict[str, tuple[int, str]] = {}

    async def _start(self) -> None:
        # As Upstream._start, but bodies are recorded as sent: Content-Encoding not undone.
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self._runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/stream/"):
            digest, size = hashlib.sha256(), 0
            async for chunk in request.content.iter_chunked(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            self.streamed[request.path] = (size, digest.hexdigest())
            return web.json_response({"received_bytes": size})
        body = await request.read()
        self.received.append(
            Received(request.host, request.method, request.path_qs, dict(request.headers), body)
        )
        if (
            request.path.endswith("/media/upload.json")
            and b"INIT" in body + request.query_string.encode()
        ):
            return web.json_response({"media_id": int(X_MEDIA_ID), "media_id_string": X_MEDIA_ID})
        if request.path.endswith("/uploads") and "file_length" in request.query:
            return web.json_response({"id": FB_SESSION})
        if request.path.endswith("/media/upload.json"):
            return web.Response(status=204)
        return web.json_response({"ok": True, "received_bytes": len(body)})


def serve_platforms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformSite]:
    """For a module fixture: the platform site serving every test host."""
    yield from serve_site(tmp_path_factory, HOSTS.values(), PlatformSite)


def start_veil_for_platforms(
    home: Path, site: PlatformSite, filters: dict[str, list[str]] | None = None
) -> VeilProcess:
    """A `veil run` protecting each host of ``filters`` with its filters; by default every
    test platform but ``plain`` with ``PIXEL_FILTERS``."""
    if filters is None:
        filters = {host: PIXEL_FILTERS for host in HOSTS.values() if host != HOSTS["plain"]}
    policy = {"strength": "low", "on_failure": "block", "profile": "none"}
    return start_veil(
        home, site, filters, hosts=HOSTS.values(), policy=policy, filter_deadline_s=600
    )


def phone_photo() -> bytes:
    """A phone-like JPEG with GPS, serials, XMP, IPTC and a comment; small so filters are quick."""
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(96, 72))


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.format or "", image.size, image.convert("RGB").tobytes()


def assert_protected(original: bytes, received: bytes, *, pixels_change: bool = True) -> None:
    """The image decodes in its format and size, its metadata is gone, its pixels changed."""
    fmt, size, got = pixels(received)
    original_fmt, original_size, before = pixels(original)
    assert (fmt, size) == (original_fmt, original_size)
    image = Image.open(io.BytesIO(received))
    assert not image.getexif().get_ifd(IFD_GPS), "GPS must be gone"
    assert SERIAL not in received and b"shot at home" not in received, "metadata must be gone"
    if pixels_change:
        assert got != before, "pixels must differ"


def arrived(site: PlatformSite, host: str, path: str) -> list[Received]:
    return [
        r for r in site.received if r.host.split(":")[0] == host and r.path.split("?")[0] == path
    ]
