"""WebP containers: list RIFF chunks, and rebuild the file around its image chunks."""

from __future__ import annotations

from filters.codecs.errors import ProtectionError
from filters.codecs.photo import Metadata

__all__ = [
    "MIN_WEBP_PAD",
    "PAD_CHUNK",
    "pad_webp",
    "webp_chunks",
    "webp_is_lossless",
    "write_webp_metadata",
]

IMAGE_CHUNKS = (b"ALPH", b"VP8 ", b"VP8L")
ANIMATION_CHUNKS = (b"ANIM", b"ANMF")
# VP8X feature flags (WebP container spec).
ICC_FLAG, ALPHA_FLAG, EXIF_FLAG, XMP_FLAG, ANIMATION_FLAG = 0x20, 0x10, 0x08, 0x04, 0x02
# Padding: an unknown chunk, which the container spec tells readers to ignore.
PAD_CHUNK = b"PADD"
MIN_WEBP_PAD = 8  # fourcc and size of an empty chunk


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A WebP's RIFF chunks as (fourcc, payload)."""
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= len(data):
        fourcc = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        chunks.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return chunks


def webp_is_lossless(data: bytes) -> bool:
    """Whether the image data (or any frame's) is VP8L."""
    for fourcc, payload in webp_chunks(data):
        inner = _frame_chunks(payload) if fourcc == b"ANMF" else [(fourcc, payload)]
        if any(name == b"VP8L" for name, _ in inner):
            return True
    return False


def _frame_chunks(payload: bytes) -> list[tuple[bytes, bytes]]:
    """The chunks inside an ANMF frame, after its 16-byte frame header."""
    return webp_chunks(bytes(12) + payload[16:])


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + pad


def _has_alpha(image: list[tuple[bytes, bytes]]) -> bool:
    for fourcc, payload in image:
        if fourcc == b"ALPH":
            return True
        if fourcc == b"VP8L" and len(payload) >= 5:
            return bool(int.from_bytes(payload[1:5], "little") >> 28 & 1)  # alpha_is_used
        if fourcc == b"ANMF" and _has_alpha(_frame_chunks(payload)):
            return True
    return False


def _riff(body: bytes) -> bytes:
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body


def write_webp_metadata(data: bytes, metadata: Metadata, width: int, height: int) -> bytes:
    """The WebP ``data`` (still or animated) with its ICC, EXIF and XMP chunks replaced by
    ``metadata``'s; image and animation chunks are kept byte for byte."""
    keep = IMAGE_CHUNKS + ANIMATION_CHUNKS
    image = [(f, p) for f, p in webp_chunks(data) if f in keep]
    alpha = _has_alpha(image)
    animated = any(f == b"ANIM" for f, _ in image)
    extended = metadata.icc or metadata.exif or metadata.xmp or animated
    if not (extended or any(f == b"ALPH" for f, _ in image)):
        body = b"".join(_chunk(f, p) for f, p in image)  # simple format: one image chunk
    else:
        flags = (
            (ICC_FLAG if metadata.icc else 0)
            | (ALPHA_FLAG if alpha else 0)
            | (ANIMATION_FLAG if animated else 0)
            | (EXIF_FLAG if metadata.exif else 0)
            | (XMP_FLAG if metadata.xmp else 0)
        )
        header = bytes((flags, 0, 0, 0)) + (width - 1).to_bytes(3, "little")
        header += (height - 1).to_bytes(3, "little")
        parts = [_chunk(b"VP8X", header)]
        parts += [_chunk(b"ICCP", metadata.icc)] if metadata.icc else []
        parts += [_chunk(f, p) for f, p in image]
        parts += [_chunk(b"EXIF", metadata.exif)] if metadata.exif else []
        parts += [_chunk(b"XMP ", metadata.xmp)] if metadata.xmp else []
        body = b"".join(parts)
    return _riff(body)


def pad_webp(data: bytes, size: int) -> bytes:
    """The WebP grown to exactly ``size`` bytes by unknown chunks of zeros at its end.

    A simple-format file (one VP8/VP8L chunk) first gets a VP8X header, after which the
    spec allows unknown chunks; that header takes 18 of the bytes to fill.

    Raises:
        ProtectionError: ``size`` is smaller, odd (RIFF chunks have even sizes), or
            too close to fit a chunk.
    """
    gap = size - len(data)
    if gap == 0:
        return data
    chunks = webp_chunks(data)
    if not chunks or chunks[0][0] != b"VP8X":
        flags = ALPHA_FLAG if _has_alpha(chunks) else 0
        width, height = _image_size(chunks)
        header = bytes((flags, 0, 0, 0)) + (width - 1).to_bytes(3, "little")
        header += (height - 1).to_bytes(3, "little")
        chunks = [(b"VP8X", header), *chunks]
    body = b"".join(_chunk(f, p) for f, p in chunks)
    gap = size - len(_riff(body))
    if gap < MIN_WEBP_PAD or gap & 1:
        raise ProtectionError(
            f"cannot pad a WebP of {len(data)} bytes to {size}: chunks take 8+ even bytes"
        )
    while gap:
        payload = min(gap - MIN_WEBP_PAD, 0x7FFFFFF0)
        body += _chunk(PAD_CHUNK, bytes(payload))
        gap -= payload + MIN_WEBP_PAD
    return _riff(body)


def _image_size(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """Width and height from a simple file's VP8 or VP8L bitstream header."""
    for fourcc, payload in chunks:
        if fourcc == b"VP8 " and len(payload) >= 10:
            return (
                int.from_bytes(payload[6:8], "little") & 0x3FFF,
                int.from_bytes(payload[8:10], "little") & 0x3FFF,
            )
        if fourcc == b"VP8L" and len(payload) >= 5:
            bits = int.from_bytes(payload[1:5], "little")
            return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    raise ProtectionError("cannot pad this WebP: no image chunk")
