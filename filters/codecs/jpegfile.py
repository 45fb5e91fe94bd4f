"""JPEG containers: read the metadata segments, and rewrite them around the image data.

Rewriting keeps the quantisation tables, Huffman tables and scans byte for byte, so
stripping metadata from an untouched photo loses nothing; data after the EOI (secondary
MPF images, vendor trailers) is cut.
"""

from __future__ import annotations

import re

from filters.codecs.errors import ProtectionError
from filters.codecs.photo import Metadata

__all__ = ["MIN_JPEG_PAD", "jpeg_segments", "pad_jpeg", "read_jpeg_metadata", "write_jpeg_metadata"]

SOI, SOS, EOI, COM = 0xD8, 0xDA, 0xD9, 0xFE
APP0, APP1, APP2, APP13, APP14, APP15 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xEF
EXIF_HEADER = b"Exif\x00\x00"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
ICC_HEADER = b"ICC_PROFILE\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
# A segment's 16-bit length counts itself, so its payload holds at most 65533 bytes.
MAX_SEGMENT_PAYLOAD = 0xFFFF - 2
ICC_CHUNK = MAX_SEGMENT_PAYLOAD - len(ICC_HEADER) - 2
MIN_JPEG_PAD = 4  # an empty COM segment: marker and length
# In scan data 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF: anything else is a marker.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

Segment = tuple[int, bytes]


def _is_metadata(marker: int, payload: bytes) -> bool:
    """APPn and COM segments, except the structural JFIF header and Adobe colour flag."""
    if marker == COM:
        return True
    if marker == APP0 and payload.startswith(b"JFIF\x00"):
        return False
    if marker == APP14 and payload.startswith(b"Adobe"):
        return False
    return APP0 <= marker <= APP15


def jpeg_segments(data: bytes) -> tuple[list[Segment], bytes, int]:
    """Parse a JPEG: (segments up to and including the first SOS, scan data, file end).

    The scan data runs from the first scan to the EOI included, without APPn/COM segments
    between scans (progressive JPEGs); the file end is the offset just past the EOI.

    Raises:
        ProtectionError: no SOI, a segment running past the end, or no scan.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ProtectionError("not a JPEG: no start-of-image marker")
    segments: list[Segment] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ProtectionError(f"corrupt JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (SOI, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker == EOI:
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise ProtectionError(f"corrupt JPEG: segment 0x{marker:02X} runs past the file")
        segments.append((marker, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == SOS:
            return segments, *_scan_data(data, pos)
    raise ProtectionError("truncated JPEG: no image data")


def _scan_data(data: bytes, pos: int) -> tuple[bytes, int]:
    """Scan data from ``pos`` through the EOI, minus metadata segments; and its end offset."""
    pieces, piece_start = [], pos
    while match := _MARKER.search(data, pos):
        start = match.start()
        marker = data[start + 1]
        if marker == EOI:
            pieces.append(data[piece_start : start + 2])
            return b"".join(pieces), start + 2
        pos = start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")
        if marker == COM or APP0 <= marker <= APP15:
            pieces.append(data[piece_start:start])
            piece_start = pos
    pieces.append(data[piece_start:])
    return b"".join(pieces), len(data)


def read_jpeg_metadata(data: bytes) -> tuple[Metadata, tuple[str, ...]]:
    """Sort a JPEG's APPn and COM segments into :class:`Metadata`; also name what is lost."""
    exif = xmp = iptc = None
    icc_chunks: dict[int, bytes] = {}
    comments: list[bytes] = []
    extra: list[tuple[str, bytes]] = []
    notes: list[str] = []
    segments, _scan, end = jpeg_segments(data)
    for marker, payload in segments:
        if not _is_metadata(marker, payload):
            continue
        if marker == COM:
            comments.append(payload)
        elif marker == APP1 and payload.startswith(EXIF_HEADER) and exif is None:
            exif = payload[len(EXIF_HEADER) :]
        elif marker == APP1 and payload.startswith(XMP_HEADER) and xmp is None:
            xmp = payload[len(XMP_HEADER) :]
        elif marker == APP2 and payload.startswith(ICC_HEADER) and len(payload) > 14:
            icc_chunks[payload[12]] = payload[14:]
        elif marker == APP2 and payload.startswith(b"MPF\x00"):
            # Points at secondary images after the EOI, which are not kept.
            notes.append("MPF secondary images dropped")
        elif marker == APP13 and payload.startswith(PHOTOSHOP_HEADER) and iptc is None:
            iptc = payload
        else:
            extra.append((f"APP{marker - APP0}", payload))
    if end < len(data) and "MPF secondary images dropped" not in notes:
        notes.append(f"{len(data) - end} bytes after the end of the image dropped")
    icc = b"".join(icc_chunks[key] for key in sorted(icc_chunks)) if icc_chunks else None
    metadata = Metadata(
        exif=exif, icc=icc, xmp=xmp, iptc=iptc, comments=tuple(comments), extra=tuple(extra)
    )
    return metadata, tuple(notes)


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT_PAYLOAD:
        raise ProtectionError(f"JPEG segment 0x{marker:02X} too large ({len(payload)} bytes)")
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _metadata_segments(metadata: Metadata) -> list[bytes]:
    segments: list[bytes] = []
    if metadata.exif:
        segments.append(_segment(APP1, EXIF_HEADER + metadata.exif))
    if metadata.xmp:
        segments.append(_segment(APP1, XMP_HEADER + metadata.xmp))
    if metadata.icc:
        chunks = [metadata.icc[i : i + ICC_CHUNK] for i in range(0, len(metadata.icc), ICC_CHUNK)]
        if len(chunks) > 255:
            raise ProtectionError("ICC profile too large for a JPEG")
        for index, chunk in enumerate(chunks, start=1):
            segments.append(_segment(APP2, ICC_HEADER + bytes((index, len(chunks))) + chunk))
    for name, payload in metadata.extra:
        if name.startswith("APP") and name[3:].isdigit() and int(name[3:]) <= 15:
            segments.append(_segment(APP0 + int(name[3:]), payload))
    if metadata.iptc:
        segments.append(_segment(APP13, metadata.iptc))
    segments.extend(_segment(COM, comment) for comment in metadata.comments)
    return segments


def write_jpeg_metadata(data: bytes, metadata: Metadata) -> bytes:
    """The JPEG ``data`` with its metadata segments replaced by ``metadata``'s.

    Image data is copied unchanged; the new segments follow SOI and the JFIF header.
    """
    segments, scan, _end = jpeg_segments(data)
    structure = [(m, p) for m, p in segments if not _is_metadata(m, p)]
    head = [_segment(m, p) for m, p in structure if m == APP0]
    rest = [_segment(m, p) for m, p in structure if m != APP0]
    return b"\xff\xd8" + b"".join(head + _metadata_segments(metadata) + rest) + scan


def pad_jpeg(data: bytes, size: int) -> bytes:
    """The JPEG grown to exactly ``size`` bytes by COM segments of zeros after the APPn ones.

    Raises:
        ProtectionError: ``size`` is smaller, or larger by 1 to 3 bytes (a COM takes 4).
    """
    gap = size - len(data)
    if gap == 0:
        return data
    if gap < MIN_JPEG_PAD:
        raise ProtectionError(f"cannot pad a JPEG by {gap} bytes: a segment takes at least 4")
    if not data.startswith(b"\xff\xd8"):
        raise ProtectionError("not a JPEG: no start-of-image marker")
    pos = 2  # after SOI and the APPn headers (JFIF's APP0 must come first)
    while data[pos : pos + 1] == b"\xff" and APP0 <= data[pos + 1] <= APP15:
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    pads, left = [], gap
    while left:
        # Segments hold at most 65537 bytes; never leave a remainder of 1-3 bytes.
        take = min(left, MAX_SEGMENT_PAYLOAD + 4)
        if 0 < left - take < MIN_JPEG_PAD:
            take -= MIN_JPEG_PAD
        pads.append(_segment(COM, bytes(take - 4)))
        left -= take
    return data[:pos] + b"".join(pads) + data[pos:]
