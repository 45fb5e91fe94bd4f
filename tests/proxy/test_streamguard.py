"""StreamGuard: large uploads flow through piece by piece, and no image byte leaves unchecked."""

from __future__ import annotations

import base64
import gzip
import random
import zlib

import brotli
import pytest
import zstandard

from proxy import streamguard
from proxy.streamguard import MAX_BUFFERED_BODY, StreamGuard, should_stream
from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body

FORM = f"multipart/form-data; boundary={BOUNDARY}"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(64, 48))


def video_bytes(size: int, seed: int = 1) -> bytes:
    """An MP4-like body: ftyp isom header, then random data (no image signature at the start)."""
    rng = random.Random(seed)
    return b"\x00\x00\x00\x18ftypisom" + rng.randbytes(size - 12)


class Decisions:
    def __init__(self, release: bool) -> None:
        self.release = release
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> bool:
        self.reasons.append(reason)
        return self.release


def pump(guard: StreamGuard, body: bytes, chunk: int = CHUNK) -> tuple[bytes, int]:
    """Feed ``body`` in chunks plus the end-of-message call; (bytes forwarded, most held)."""
    out = bytearray()
    most_held = 0
    for start in [*range(0, len(body), chunk), len(body)]:
        piece = body[start : start + chunk]
        got = guard(piece)
        out += got if isinstance(got, bytes) else b"".join(got)
        most_held = max(most_held, start + len(piece) - len(out))
        if start == len(body):
            break
    return bytes(out), most_held


def test_only_bodies_larger_than_the_limit_stream() -> None:
    assert should_stream(MAX_BUFFERED_BODY + 1)
    assert not should_stream(MAX_BUFFERED_BODY)
    assert not should_stream(None)  # chunked: buffered, so a chunked photo is protected


def test_raw_video_streams_through_unchanged_holding_little() -> None:
    body = video_bytes(3 * 1024 * 1024)
    decisions = Decisions(release=False)
    out, most_held = pump(StreamGuard("video/mp4", None, decisions), body)
    assert out == body and decisions.reasons == []
    assert most_held <= CHUNK


@pytest.mark.parametrize("content_type", ["video/mp4", "application/octet-stream", None])
def test_raw_photo_mislabelled_is_stopped_before_any_byte(photo: bytes, content_type) -> None:
    decisions = Decisions(release=False)
    out, _ = pump(StreamGuard(content_type, None, decisions), photo + video_bytes(200_000), 1000)
    assert out == b"" and decisions.reasons == ["a JPEG image inside an upload too large to buffer"]


def test_send_original_releases_everything(photo: bytes) -> None:
    body = photo + video_bytes(100_000)
    decisions = Decisions(release=True)
    out, _ = pump(StreamGuard(None, None, decisions), body, 4096)
    assert out == body and len(decisions.reasons) == 1


def test_multipart_image_after_a_video_leaks_nothing_of_the_photo(photo: bytes) -> None:
    video = video_bytes(500_000)
    body = form_body(
        [
            field("caption", b"beach"),
            file_part("video", "clip.mp4", "video/mp4", video),
            file_part("photo", "cover.bin", "application/octet-stream", photo),
        ]
    )
    decisions = Decisions(release=False)
    out, _ = pump(StreamGuard(FORM, None, decisions), body, 8192)
    assert decisions.reasons == ["a JPEG image inside an upload too large to buffer"]
    assert body.startswith(out) and len(out) <= body.index(photo)
    # What came before the photo went on, up to the photo part's delimiter.
    assert len(out) >= body.index(
        b"\r\n--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="photo"'
    )
    assert photo[:16] not in out


def test_multipart_without_images_streams_whole(photo: bytes) -> None:
    body = form_body([field("a", b"1"), file_part("v", "v.mp4", "video/mp4", video_bytes(300_000))])
    decisions = Decisions(release=False)
    out, most_held = pump(StreamGuard(FORM, None, decisions), body, 8192)
    assert out == body and decisions.reasons == [] and most_held <= 2 * 8192


def test_base64_image_in_a_large_json_is_caught(photo: bytes) -> None:
    body = b'{"pad": "' + b"x" * 100_000 + b'", "media_data": "' + base64.b64encode(photo) + b'"}'
    decisions = Decisions(release=False)
    out, _ = pump(StreamGuard("application/json", None, decisions), body, 4096)
    assert decisions.reasons == ["a base64 image inside an upload too large to buffer"]
    assert len(out) <= body.index(b'", "media_data"') + 20


COMPRESSORS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("encoding", COMPRESSORS)
def test_encoded_bodies_are_checked_decoded_and_forwarded_encoded(
    photo: bytes, encoding: str
) -> None:
    clean = COMPRESSORS[encoding](video_bytes(300_000))
    decisions = Decisions(release=False)
    out, _ = pump(StreamGuard("video/mp4", encoding, decisions), clean, 4096)
    assert out == clean and decisions.reasons == []
    dirty = COMPRESSORS[encoding](photo + video_bytes(50_000))
    out, _ = pump(StreamGuard("video/mp4", encoding, decisions), dirty, 4096)
    assert out == b"" and decisions.reasons == ["a JPEG image inside an upload too large to buffer"]


def test_unknown_or_broken_encoding_falls_under_the_rule() -> None:
    decisions = Decisions(release=False)
    assert pump(StreamGuard(None, "compress", decisions), b"abc" * 100)[0] == b""
    assert "Content-Encoding" in decisions.reasons[0]
    decisions = Decisions(release=False)
    assert pump(StreamGuard(None, "gzip", decisions), b"not gzip at all" * 10)[0] == b""
    assert "cannot decode" in decisions.reasons[0]


def test_public_surface_matches_all() -> None:
    own = {
        name
        for name, value in vars(streamguard).items()
        if getattr(value, "__module__", None) == streamguard.__name__ and not name.startswith("_")
    }
    assert own <= set(streamguard.__all__) <= set(vars(streamguard))
