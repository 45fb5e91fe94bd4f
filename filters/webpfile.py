"""WebP containers: list RIFF chunks, and rebuild the file around its image chunks."""

from __future__ import annotations

from filters.photo import Metadata

__all__ = ["webp_chunks", "webp_is_lossless", "write_webp_metadata"]

IMAGE_CHUNKS = (b"ALPH", b"VP8 ", b"VP8L")
# VP8X feature flags (WebP container spec).
ICC_FLAG, ALPHA_FLAG, EXIF_FLAG, XMP_FLAG = 0x20, 0x10, 0x08, 0x04


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
    return any(fourcc == b"VP8L" for fourcc, _ in webp_chunks(data))


def _chunk(fourcc: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) & 1 else b""
    return fourcc + len(payload).to_bytes(4, "little") + payload + pad


def _has_alpha(image: list[tuple[bytes, bytes]]) -> bool:
    for fourcc, payload in image:
        if fourcc == b"ALPH":
            return True
        if fourcc == b"VP8L" and len(payload) >= 5:
            return bool(int.from_bytes(payload[1:5], "little") >> 28 & 1)  # alpha_is_used
    return False


def write_webp_metadata(data: bytes, metadata: Metadata, width: int, height: int) -> bytes:
    """The still WebP ``data`` with its ICC, EXIF and XMP chunks replaced by ``metadata``'s."""
    image = [(f, p) for f, p in webp_chunks(data) if f in IMAGE_CHUNKS]
    alpha = _has_alpha(image)
    if not (metadata.icc or metadata.exif or metadata.xmp or any(f == b"ALPH" for f, _ in image)):
        body = b"".join(_chunk(f, p) for f, p in image)  # simple format: one image chunk
    else:
        flags = (
            (ICC_FLAG if metadata.icc else 0)
            | (ALPHA_FLAG if alpha else 0)
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
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body
