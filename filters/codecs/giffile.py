"""GIF containers: walk the blocks, rewrite the metadata extensions, pad to a size.

Image descriptors, colour tables, graphic control and loop (NETSCAPE2.0) extensions are
copied byte for byte, so stripping metadata from an untouched GIF loses nothing.
Metadata here is comments, an XMP packet ("XMP DataXMP") and an ICC profile
("ICCRGBG1012").
"""

from __future__ import annotations

from filters.codecs.errors import ProtectionError
from filters.codecs.photo import Metadata

__all__ = ["MIN_GIF_PAD", "gif_blocks", "pad_gif", "read_gif_metadata", "write_gif_metadata"]

EXTENSION, IMAGE, TRAILER = 0x21, 0x2C, 0x3B
COMMENT, APPLICATION, GRAPHIC_CONTROL = 0xFE, 0xFF, 0xF9
XMP_ID, ICC_ID = b"XMP DataXMP", b"ICCRGBG1012"
# XMP's "magic trailer" makes the raw packet parse as sub-blocks (XMP spec part 3, 1.1.2).
XMP_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
MIN_GIF_PAD = 3  # an empty comment extension; 4 bytes cannot be filled

Block = tuple[int, int, bytes]  # (introducer, label or 0, the whole block's bytes)


def _sub_blocks(data: bytes, pos: int) -> int:
    """The offset just past the sub-blocks starting at ``pos`` (and their 0 terminator)."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise ProtectionError("truncated GIF: a block runs past the end")


def _table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def gif_blocks(data: bytes) -> tuple[bytes, list[Block]]:
    """Split a GIF into its head (header, screen descriptor, global colour table) and blocks.

    The trailer is the last block; bytes after it are dropped.

    Raises:
        ProtectionError: not a GIF, an unknown block, or truncated.
    """
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise ProtectionError("not a GIF: no GIF87a/GIF89a header")
    pos = 13 + _table_size(data[10])
    head, blocks = data[:pos], []
    while pos < len(data):
        start, kind = pos, data[pos]
        if kind == TRAILER:
            blocks.append((TRAILER, 0, b";"))
            return head, blocks
        if kind == EXTENSION and pos + 1 < len(data):
            label = data[pos + 1]
            pos = _sub_blocks(data, pos + 2)
        elif kind == IMAGE and pos + 10 < len(data):
            label = 0
            pos = _sub_blocks(data, pos + 10 + _table_size(data[pos + 9]) + 1)
        else:
            raise ProtectionError(f"corrupt GIF: unknown block 0x{kind:02X} at byte {pos}")
        blocks.append((kind, label, data[start:pos]))
    raise ProtectionError("truncated GIF: no trailer")


def _payload(block: bytes, skip: int) -> bytes:
    """The concatenated sub-block data of an extension, from offset ``skip``."""
    out, pos = [], skip
    while pos < len(block) and block[pos]:
        out.append(block[pos + 1 : pos + 1 + block[pos]])
        pos += 1 + block[pos]
    return b"".join(out)


def _app_id(block: bytes) -> bytes:
    return block[3:14] if block[1] == APPLICATION and block[2] == 11 else b""


def read_gif_metadata(data: bytes) -> Metadata:
    """Comments, XMP and ICC profile of a GIF."""
    comments, xmp, icc = [], None, None
    for kind, label, block in gif_blocks(data)[1]:
        if kind != EXTENSION:
            continue
        if label == COMMENT:
            comments.append(_payload(block, 2))
        elif _app_id(block) == XMP_ID and xmp is None:
            raw = block[14:-1]  # the packet is stored raw, sub-block lengths and all
            xmp = raw[: -len(XMP_TRAILER) + 1] if raw.endswith(XMP_TRAILER[:-1]) else raw
        elif _app_id(block) == ICC_ID and icc is None:
            icc = _payload(block, 14)
    return Metadata(icc=icc, xmp=xmp, comments=tuple(comments))


def _blocks_of(payload: bytes) -> bytes:
    pieces = [payload[i : i + 255] for i in range(0, len(payload), 255)]
    return b"".join(bytes((len(piece),)) + piece for piece in pieces) + b"\x00"


def _metadata_blocks(metadata: Metadata) -> list[bytes]:
    blocks = [bytes((EXTENSION, COMMENT)) + _blocks_of(text) for text in metadata.comments]
    if metadata.xmp:
        blocks.append(b"\x21\xff\x0b" + XMP_ID + metadata.xmp + XMP_TRAILER)
    if metadata.icc:
        blocks.append(b"\x21\xff\x0b" + ICC_ID + _blocks_of(metadata.icc))
    return blocks


def _is_metadata(kind: int, label: int, block: bytes) -> bool:
    return kind == EXTENSION and (label == COMMENT or _app_id(block) in (XMP_ID, ICC_ID))


def write_gif_metadata(data: bytes, metadata: Metadata) -> bytes:
    """The GIF ``data`` with its comments, XMP and ICC replaced by ``metadata``'s.

    The new extensions go before the first image (and its graphic control extension).
    """
    head, blocks = gif_blocks(data)
    kept = [(k, label, b) for k, label, b in blocks if not _is_metadata(k, label, b)]
    new = _metadata_blocks(metadata)
    first = next(
        i for i, (k, label, _b) in enumerate(kept) if k != EXTENSION or label == GRAPHIC_CONTROL
    )
    body = [b for _k, _l, b in kept[:first]] + new + [b for _k, _l, b in kept[first:]]
    if new:
        head = b"GIF89a" + head[6:]  # extensions need the 89a version
    return head + b"".join(body)


def pad_gif(data: bytes, size: int) -> bytes:
    """The GIF grown to exactly ``size`` bytes by a comment of zeros before the trailer.

    Raises:
        ProtectionError: ``size`` is smaller, or larger by 1, 2 or 4 bytes.
    """
    gap = size - len(data)
    if gap == 0:
        return data
    if gap < MIN_GIF_PAD or gap == 4 or not data.endswith(b";"):
        raise ProtectionError(f"cannot pad this GIF by {gap} bytes")
    pieces, left = [], gap - 3
    while left:
        take = min(left, 256)
        if left - take == 1:  # a lone byte cannot be a sub-block: leave two
            take -= 1
        pieces.append(bytes((take - 1,)) + bytes(take - 1))
        left -= take
    comment = bytes((EXTENSION, COMMENT)) + b"".join(pieces) + b"\x00"
    return b"GIF89a" + data[6:-1] + comment + b";"
