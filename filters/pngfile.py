"""PNG containers: list chunks, and rewrite the metadata chunks around the image data."""

from __future__ import annotations

import zlib

from filters.photo import Metadata

__all__ = ["PNG_SIGNATURE", "XMP_KEY", "carried_chunk", "png_chunks", "write_png_metadata"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEY = "XML:com.adobe.xmp"
# Ancillary chunks that describe the pixels themselves: kept in place on a rewrite.
STRUCTURAL = frozenset({b"tRNS", b"bKGD", b"sBIT", b"hIST", b"sPLT", b"pHYs"})
# Colour and date chunks carried as metadata ("extra"), written back after IHDR.
CARRIED = frozenset({b"cHRM", b"cICP", b"gAMA", b"sRGB", b"tIME"})

Chunk = tuple[bytes, bytes, bool]


def png_chunks(data: bytes) -> list[Chunk]:
    """A PNG's chunks as (type, data, after_idat); stops quietly at a truncated chunk."""
    chunks: list[Chunk] = []
    pos, seen_idat = len(PNG_SIGNATURE), False
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if pos + 12 + length > len(data):
            break
        seen_idat = seen_idat or kind == b"IDAT"
        chunks.append((kind, data[pos + 8 : pos + 8 + length], seen_idat and kind != b"IDAT"))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def carried_chunk(kind: bytes) -> bool:
    """Whether a chunk travels as metadata: colour/date chunks, and private chunks marked
    safe-to-copy (PNG spec 5.4: second and fourth letters lower case)."""
    return kind in CARRIED or (kind[1:2].islower() and kind[3:4].islower())


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def _text_chunk(key: str, value: str) -> bytes:
    name = key.encode("latin-1", "replace")[:79]
    try:
        return _chunk(b"tEXt", name + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:  # iTXt: uncompressed, no language, no translated key
        return _chunk(b"iTXt", name + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))


def _metadata_chunks(metadata: Metadata) -> list[bytes]:
    chunks = [_chunk(kind.encode("latin-1"), data) for kind, data in metadata.extra]
    if metadata.icc:
        chunks.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(metadata.icc)))
    if metadata.exif:
        chunks.append(_chunk(b"eXIf", metadata.exif))
    if metadata.xmp:
        chunks.append(_chunk(b"iTXt", XMP_KEY.encode() + b"\x00" * 5 + metadata.xmp))
    chunks += [_text_chunk(key, value) for key, value in metadata.text]
    return chunks


def write_png_metadata(data: bytes, metadata: Metadata) -> bytes:
    """The PNG ``data`` with its metadata chunks replaced by ``metadata``'s.

    Critical and structural chunks stay as they are; every other ancillary chunk is
    dropped; the metadata chunks go right after IHDR (before PLTE, as colour chunks must).
    """
    out = [PNG_SIGNATURE]
    for kind, payload, _after in png_chunks(data):
        if kind[:1].isupper() or kind in STRUCTURAL:
            out.append(_chunk(kind, payload))
        if kind == b"IHDR":
            out += _metadata_chunks(metadata)
    return b"".join(out)
