"""Traces of image data where no image was expected: what the shapes did not find as an
image (a part whose body starts with a line break, a nested ``multipart/mixed``, a format
Veil cannot rewrite, base64 in a place no shape reads) must not leave a protected site as it
came. The upload protector applies the failure rule to any trace found outside the images it
rewrites.

Anywhere inside a region, only signatures long enough not to turn up by chance in a large
compressed file (a video on a protected site) count; at a region's start, after
whitespace, any image signature does. Pure functions; nothing from mitmproxy or torch.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from filters.codecs.formats import sniff_format

__all__ = ["ImageTrace", "find_image_trace"]

# Each signature: a literal anchor found by bytes.find (fast, unlike one regex over many
# megabytes), then a pattern that must match where the signature starts, ``back`` bytes
# before the anchor. Binary ones fix 6 or more bytes: by chance once in 2^48 positions.
_BINARY_SIGNATURES = (
    ("PNG", b"\x89PNG\r\n\x1a\n", 0, b""),
    ("GIF", b"GIF8", 0, rb"GIF8[79]a"),
    ("WEBP", b"WEBPVP8", 8, rb"RIFF....WEBPVP8"),
    ("HEIF", b"ftyp", 0, rb"ftyp(?:heic|heix|heim|heis|hevc|hevx|mif1|msf1)"),
    ("AVIF", b"ftypavi", 0, rb"ftypavi[fs]"),
    ("JPEG2000", b"jP  \r\n\x87\n", 4, rb"\x00\x00\x00\x0cjP  "),
    ("JPEG2000", b"\xff\x4f\xff\x51\x00", 0, b""),
    ("JPEGXL", b"JXL \r\n\x87\n", 4, rb"\x00\x00\x00\x0cJXL "),
    ("TIFF", b"II*\x00\x08\x00\x00\x00", 0, b""),
    ("TIFF", b"MM\x00*\x00\x00\x00\x08", 0, b""),
)
# Images written as text, found in the lower-cased region: data URLs, base64 or
# percent-encoded bytes, each naming its format in eight or more characters.
_TEXT_SIGNATURES = (
    ("data URL", b"data:image/", 0, b""),
    ("data URL", b"data%3aimage%2f", 0, b""),
    ("percent-encoded JPEG", b"%ff%d8%ff%", 0, b""),
    ("percent-encoded PNG", b"%89png%0d%0a", 0, b""),
    ("base64 PNG", b"ivborw0kggo", 0, b""),
    ("base64 GIF", b"r0lgodlh", 0, b""),
    ("base64 GIF", b"r0lgoddh", 0, b""),
    ("base64 WEBP", b"uklgr", 0, rb"uklgr[a-z0-9+/]{7}rujq"),
    ("base64 HEIF", b"z0exbozwlj", 0, b""),
    ("base64 AVIF", b"z0exbhdmlm", 0, b""),
    ("base64 HEIF", b"z0exbtawyx", 0, b""),
)
_Signature = tuple[str, bytes, int, bytes]
# A JPEG's start is only three bytes: each candidate is checked for a JPEG's segment chain.
_JPEG_START = b"\xff\xd8\xff"
# Base64 JPEGs start "/9j/" (JSON may escape the slash, a form percent-encodes it): each
# candidate is decoded and checked like a binary one.
_BASE64_JPEG_STARTS = (b"/9j/", b"\\/9j\\/", b"%2f9j%2f")
_BASE64_JPEG = re.compile(rb"(?:\\?/|%2F)9j(?:\\?/|%2F)[A-Za-z0-9+/%\\]{20}", re.IGNORECASE)
_LEADING_SPACE = b" \t\r\n\x00"


def _first(region: bytes, anchor: bytes, verify: Callable[[int], bool]) -> int | None:
    """The first offset of ``anchor`` in ``region`` that ``verify`` accepts."""
    found = region.find(anchor)
    while found != -1:
        if verify(found):
            return found
        found = region.find(anchor, found + 1)
    return None


def _signature_at(region: bytes, signature: _Signature) -> int | None:
    _, anchor, back, pattern = signature
    compiled = re.compile(pattern, re.S) if pattern else None

    def verify(found: int) -> bool:
        start = found - back
        return start >= 0 and (compiled is None or compiled.match(region, start) is not None)

    found = _first(region, anchor, verify)
    return None if found is None else found - back


def _jpeg_chain(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG: SOI, then a marker segment whose length leads to
    the next marker (by chance, once in about a thousand three-byte starts)."""
    if not data.startswith(_JPEG_START) or len(data) < 6:
        return False
    marker = data[3]
    if not (0xC0 <= marker <= 0xFE) or marker in (0xD8, 0xD9):
        return False
    length = int.from_bytes(data[4:6], "big")
    if length < 2:
        return False
    following = 4 + length
    return following >= len(data) or data[following] == 0xFF


def _base64_jpeg(region: bytes, at: int) -> bool:
    match = _BASE64_JPEG.match(region, at)
    if match is None:
        return False
    text = match.group().replace(b"\\/", b"/")
    text = re.sub(rb"%2F", b"/", text, flags=re.IGNORECASE)
    text = re.sub(rb"%2B", b"+", text, flags=re.IGNORECASE)
    try:
        raw = base64.b64decode(text[: len(text) - len(text) % 4], validate=True)
    except ValueError:
        return False
    return _jpeg_chain(raw)


@dataclass(frozen=True)
class ImageTrace:
    """Image data found where Veil found no image to rewrite.

    Attributes:
        format: what it looks like (``"JPEG"``, ``"JPEG2000"``, ``"base64 or data URL"``...).
        offset: where it starts, in the region it was found in.
        where: which region (``"part 2"``, ``"the body"``).
    """

    format: str
    offset: int
    where: str

    def describe(self) -> str:
        return f"{self.format} image data at byte {self.offset} of {self.where}"


def _trace_in(region: bytes) -> tuple[str, int] | None:
    stripped = region.lstrip(_LEADING_SPACE)
    if stripped and (fmt := sniff_format(stripped)) is not None:
        return fmt, len(region) - len(stripped)
    hits = []
    for signature in _BINARY_SIGNATURES:
        if (found := _signature_at(region, signature)) is not None:
            hits.append((found, signature[0]))
    jpeg = _first(region, _JPEG_START, lambda at: _jpeg_chain(region[at : at + 64 * 1024]))
    if jpeg is not None:
        hits.append((jpeg, "JPEG"))
    lowered = region.lower()
    for signature in _TEXT_SIGNATURES:
        if (found := _signature_at(lowered, signature)) is not None:
            hits.append((found, signature[0]))
    for anchor in _BASE64_JPEG_STARTS:
        if (found := _first(lowered, anchor, lambda at: _base64_jpeg(region, at))) is not None:
            hits.append((found, "base64 JPEG"))
    return min(hits, key=lambda hit: hit[0])[::-1] if hits else None


def find_image_trace(regions: Iterable[tuple[str, bytes]]) -> ImageTrace | None:
    """The first image trace in the named regions of a body, or None.

    >>> find_image_trace([("the body", b'{"note": "hello"}')]) is None
    True
    >>> find_image_trace([("part 1", b"\\r\\n\\xff\\xd8\\xff\\xe0\\x00\\x10JFIF\\x00")]).describe()
    'JPEG image data at byte 2 of part 1'
    """
    for where, region in regions:
        found = _trace_in(region)
        if found is not None:
            return ImageTrace(found[0], found[1], where)
    return None
