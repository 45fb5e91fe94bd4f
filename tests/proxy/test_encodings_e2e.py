"""Through a real `veil run`: every Content-Encoding, chunked bodies, Expect: 100-continue and
HTTP/2 from the client; and a 1 GB non-image upload to a protected site, streamed in bounded
memory (measured from the process), while an image in a body too large to buffer is stopped."""

from __future__ import annotations

import gzip
import hashlib
import random
import shutil
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import brotli
import httpx
import pytest
import zstandard

from proxy.streamguard import MAX_BUFFERED_BODY
from tests.e2e import VeilProcess
from tests.proxy.platform_support import (
    HOSTS,
    PlatformSite,
    arrived,
    assert_protected,
    phone_photo,
    serve_platforms,
    start_veil_for_platforms,
)
from tests.proxy.test_multipart import file_part, form_body

pytestmark = pytest.mark.e2e

HOST = HOSTS["bluesky"]
BIG_UPLOAD = 1 << 30  # the 1 GB non-image upload
CHUNK = 1 << 20
# What "a small bound" means here: a few socket buffers and pieces in flight, not the body.
MAX_RSS_GROWTH = 64 << 20
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}
DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformSite]:
    yield from serve_platforms(tmp_path_factory)


@pytest.fixture(scope="module")
def photo() -> bytes:
    return phone_photo()


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: PlatformSite) -> Iterator[VeilProcess]:
    process = start_veil_for_platforms(tmp_path_factory.mktemp("veil-home"), site)
    yield process
    process.stop()


@pytest.mark.parametrize("encoding", COMPRESS)
def test_content_encoding_is_decoded_protected_and_reencoded(
    veil: VeilProcess, site: PlatformSite, photo: bytes, encoding: str
) -> None:
    path = f"/xrpc/upload-{encoding}"
    with veil.client() as client:
        headers = {"Content-Type": "image/jpeg", "Content-Encoding": encoding}
        response = client.post(
            f"https://{HOST}{path}", content=COMPRESS[encoding](photo), headers=headers
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, HOST, path)
    assert got.headers["Content-Encoding"] == encoding
    assert int(got.headers["Content-Length"]) == len(got.body)
    assert_protected(photo, DECOMPRESS[encoding](got.body), pixels_change=False)


def test_gzip_multipart_form(veil: VeilProcess, site: PlatformSite, photo: bytes) -> None:
    boundary = "----WebKitFormBoundaryGzip"
    body = form_body([file_part("file", "hen.jpg", "image/jpeg", photo)], boundary)
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Encoding": "gzip",
    }
    with veil.client() as client:
        assert (
            client.post(
                f"https://{HOST}/gz-form", content=gzip.compress(body), headers=headers
            ).status_code
            == 200
        )
    [got] = arrived(site, HOST, "/gz-form")
    received = gzip.decompress(got.body)
    start = body.index(photo)
    image = received[start : len(received) - (len(body) - start - len(photo))]
    assert received[:start] == body[:start]
    assert_protected(photo, image, pixels_change=False)


def test_chunked_upload_is_buffered_and_protected(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    def pieces() -> Iterator[bytes]:
        for start in range(0, len(photo), 1000):
            yield photo[start : start + 1000]

    with veil.client() as client:
        response = client.put(
            f"https://{HOST}/chunked", content=pieces(), headers={"Content-Type": "image/jpeg"}
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, HOST, "/chunked")
    assert_protected(photo, got.body, pixels_change=False)


def curl_upload(veil: VeilProcess, url: str, image: Path, *options: str) -> str:
    """Upload a file with curl through Veil; returns "<status> <HTTP version>"."""
    result = subprocess.run(
        [
            "curl", "-sS", "--fail", "-x", f"http://127.0.0.1:{veil.proxy_port}",
            "--cacert", str(veil.ca_cert), "-H", "Content-Type: image/jpeg",
            "--data-binary", f"@{image}", "-w", "%{http_code} %{http_version}",
            "-o", "/dev/null", *options, url,
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")


@needs_curl
def test_expect_100_continue(
    veil: VeilProcess, site: PlatformSite, photo: bytes, tmp_path: Path
) -> None:
    image = tmp_path / "hen.jpg"
    image.write_bytes(photo)
    # curl really waits for the 100 Continue before sending the body.
    assert (
        curl_upload(
            veil, f"https://{HOST}/expect", image, "--http1.1", "-H", "Expect: 100-continue"
        )
        == "200 1.1"
    )
    [got] = arrived(site, HOST, "/expect")
    assert "Expect" not in got.headers  # answered by the proxy, not forwarded
    assert_protected(photo, got.body, pixels_change=False)


@needs_curl
def test_http2_client(veil: VeilProcess, site: PlatformSite, photo: bytes, tmp_path: Path) -> None:
    # curl offers h2 first, as browsers do (httpx offers http/1.1 first, and mitmproxy
    # honours the client's order).
    image = tmp_path / "hen.jpg"
    image.write_bytes(photo)
    assert curl_upload(veil, f"https://{HOST}/h2", image, "--http2") == "200 2"
    [got] = arrived(site, HOST, "/h2")
    assert_protected(photo, got.body, pixels_change=False)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def video_stream(total: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """An MP4-like body made of random blocks, hashed as it is sent (bounded loop)."""
    block = b"\x00\x00\x00\x18ftypisom" + random.Random(7).randbytes(CHUNK - 12)
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        digest.update(piece)
        sent += len(piece)
        yield piece


def test_one_gigabyte_video_streams_in_bounded_memory(
    veil: VeilProcess, site: PlatformSite
) -> None:
    assert veil.process is not None
    pid = veil.process.pid
    with veil.client() as client:  # warm up: the connection and TLS machinery
        client.put(f"https://{HOST}/stream/warm", content=b"\x00" * CHUNK)
    baseline = rss_bytes(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    digest = hashlib.sha256()
    started = time.monotonic()
    try:
        with veil.client() as client:  # 120 s between reads: ample on loopback
            response = client.put(
                f"https://{HOST}/stream/video",
                content=video_stream(BIG_UPLOAD, digest),
                headers={"Content-Type": "video/mp4", "Content-Length": str(BIG_UPLOAD)},
            )
    finally:
        done.set()
        sampler.join(5)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert site.streamed["/stream/video"] == (BIG_UPLOAD, digest.hexdigest())
    growth = peak[0] - baseline
    print(
        f"\n1 GiB through veil in {elapsed:.1f} s; "
        f"RSS {baseline >> 20} MiB -> peak {peak[0] >> 20} MiB"
    )
    assert growth < MAX_RSS_GROWTH, f"RSS grew {growth >> 20} MiB while streaming 1 GiB"


def test_image_in_a_body_too_large_to_buffer_never_leaves(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    total = MAX_BUFFERED_BODY + CHUNK

    def body() -> Iterator[bytes]:
        yield photo
        sent = len(photo)
        while sent < total:
            piece = bytes(min(CHUNK, total - sent))
            sent += len(piece)
            yield piece

    with veil.client() as client, pytest.raises(httpx.HTTPError):
        client.put(
            f"https://{HOST}/stream/hidden-photo",
            content=body(),
            headers={"Content-Type": "video/mp4", "Content-Length": str(total)},
        ).raise_for_status()
    size, _ = site.streamed.get("/stream/hidden-photo", (0, ""))
    assert size == 0, "not one byte of the photo may reach the site"
    items = veil.api("GET", f"/audit?site={HOST}&limit=50").json()["items"]
    [entry] = [e for e in items if e["path"] == "/stream/hidden-photo"]
    assert entry["outcome"] == "blocked" and "too large to buffer" in entry["reason"]
