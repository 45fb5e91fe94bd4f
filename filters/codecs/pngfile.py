"""PNG containers: list chunks, and rewrite the metadata chunks around the image data."""

from __future__ import annotations

import zlib

import numpy as np

from filters.codecs.errors import ProtectionError
from filters.codecs.photo import Metadata

__all__ = [
    "MIN_PNG_PAD",
    "PAD_CHUNK",
    "PNG_SIGNATURE",
    "XMP_KEY",
    "carried_chunk",
    "pad_png",
    "png_bit_depth",
    "png_chunks",
    "read_wide_png",
    "write_png_metadata",
    "write_wide_png",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEY = "XML:com.adobe.xmp"
# Ancillary chunks that describe the pixels themselves: kept in place on a rewrite.
# acTL/fcTL/fdAT are APNG's frames: ancillary by name, but the animation itself.
STRUCTURAL = frozenset(
    {b"tRNS", b"bKGD", b"sBIT", b"hIST", b"sPLT", b"pHYs", b"acTL", b"fcTL", b"fdAT"}
)
# Colour and date chunks carried as metadata ("extra"), written back after IHDR.
CARRIED = frozenset({b"cHRM", b"cICP", b"gAMA", b"sRGB", b"tIME"})

# Padding: ancillary, private, safe-to-copy (PNG spec 5.4), ignored by every reader.
PAD_CHUNK = b"paDd"
MIN_PNG_PAD = 12  # length, type and CRC of an empty chunk
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey+alpha, RGB, RGBA

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


def png_bit_depth(data: bytes) -> int:
    """The bit depth in the IHDR (1-16); 0 when there is no readable IHDR."""
    header = data[16:29]
    return header[8] if len(header) == 13 and data[12:16] == b"IHDR" else 0


def read_wide_png(data: bytes) -> np.ndarray:
    """A 16-bit PNG's samples as (H, W, C) uint16, RGB(A) order; C is 1, 2, 3 or 4.

    Raises:
        ProtectionError: the file does not decode.
    """
    import cv2  # only 16-bit files need it; Pillow has no 16-bit colour modes

    colour_type = data[25] if len(data) > 25 else -1
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise ProtectionError("cannot decode this 16-bit PNG file")
    if array.ndim == 2:
        return array[:, :, None]
    if array.shape[2] == 4 and colour_type == 4:  # grey + alpha comes back as BGRA
        return np.ascontiguousarray(array[:, :, [0, 3]])
    order = [2, 1, 0, 3][: array.shape[2]]
    return np.ascontiguousarray(array[:, :, order])


def write_wide_png(samples: np.ndarray) -> bytes:
    """A 16-bit PNG of (H, W, C) uint16 samples (C = 1 grey, 2 grey+alpha, 3, 4), no metadata.

    Every row uses the Up filter: photos change little from row to row.
    """
    height, width, channels = samples.shape
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    up = rows.copy()
    up[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as the filter wants
    raw = np.hstack([np.full((height, 1), 2, np.uint8), up]).tobytes()
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    header += bytes((16, _COLOUR_TYPES[channels], 0, 0, 0))
    parts = [_chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw, 9)), _chunk(b"IEND", b"")]
    return PNG_SIGNATURE + b"".join(parts)


def pad_png(data: bytes, size: int) -> bytes:
    """The PNG grown to exactly ``size`` bytes by private chunks before IEND.

    Raises:
        ProtectionError: ``size`` is smaller, or larger by 1 to 11 bytes (an empty chunk
            takes 12).
    """
    gap = size - len(data)
    if gap == 0:
        return data
    if gap < MIN_PNG_PAD:
        raise ProtectionError(f"cannot pad a PNG by {gap} bytes: a chunk takes at least 12")
    end = data.rfind(b"IEND") - 4
    if end < len(PNG_SIGNATURE):
        raise ProtectionError("cannot pad this PNG: it has no IEND chunk")
    pads, left = [], gap
    while left:
        payload = min(left - MIN_PNG_PAD, 0x7FFFFFFF)
        pads.append(_chunk(PAD_CHUNK, bytes(payload)))
        left -= payload + MIN_PNG_PAD
    return data[:end] + b"".join(pads) + data[end:]
