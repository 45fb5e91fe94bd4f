"""Images written as text: bare base64 (standard or URL-safe, wrapped or not) and data URLs.

Decoding remembers the style, so the protected image is written back the way the client wrote
the original: same data-URL prefix, alphabet, padding and line wrapping.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from filters.codecs.formats import IMAGE_MAGIC_MIN_BYTES, sniff_format
from proxy.multipart import MalformedBody

__all__ = ["MIN_TEXT_IMAGE_CHARS", "TextImage", "decode_text_image", "encode_text_image"]

# 24 base64 characters decode to 18 bytes: enough for every magic number sniff_format knows.
MIN_TEXT_IMAGE_CHARS = 24
_DATA_URL = re.compile(rb"^data:[!-+\--~]*;base64,", re.IGNORECASE)
_NEWLINE = re.compile(rb"\r?\n")
_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/=\r\n]*$")
_B64URL_CHARS = re.compile(rb"^[A-Za-z0-9\-_=\r\n]*$")


@dataclass(frozen=True)
class TextImage:
    """A decoded text image and the style to write a replacement in."""

    data: bytes
    format: str
    prefix: bytes  # the data-URL header, or b""
    urlsafe: bool
    padded: bool
    line_length: int  # 0: one line
    newline: bytes


def _head_format(text: bytes, urlsafe: bool) -> str | None:
    head = text[: MIN_TEXT_IMAGE_CHARS + 8]
    head = _NEWLINE.sub(b"", head)[:MIN_TEXT_IMAGE_CHARS]
    if len(head) < MIN_TEXT_IMAGE_CHARS:
        return None
    try:
        raw = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(head)
    except (binascii.Error, ValueError):
        return None
    return sniff_format(raw[:IMAGE_MAGIC_MIN_BYTES])


def decode_text_image(text: bytes) -> TextImage | None:
    """The image a text value holds, or None when it holds none.

    Raises:
        MalformedBody: the value starts like a base64 image but is not valid base64: it
            cannot be protected, and must not leave as it is.

    >>> decode_text_image(b"hello") is None
    True
    >>> gif_1px = b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    >>> decode_text_image(b"data:image/gif;base64," + gif_1px).format
    'GIF'
    """
    match = _DATA_URL.match(text)
    prefix = match.group(0) if match else b""
    payload = text[len(prefix) :]
    if len(payload) < MIN_TEXT_IMAGE_CHARS and not prefix:
        return None
    urlsafe = bool(re.search(rb"[-_]", payload[:4096])) and not re.search(rb"[+/]", payload)
    fmt = _head_format(payload, urlsafe)
    if fmt is None:
        return None
    pattern = _B64URL_CHARS if urlsafe else _B64_CHARS
    if not pattern.match(payload):
        raise MalformedBody(f"a base64 {fmt} image holds characters outside base64")
    lines = _NEWLINE.split(payload.rstrip(b"\r\n"))
    compact = b"".join(lines)
    try:
        padded_text = compact + b"=" * (-len(compact) % 4)
        data = (base64.urlsafe_b64decode if urlsafe else base64.b64decode)(padded_text)
    except (binascii.Error, ValueError) as error:
        raise MalformedBody(f"a base64 {fmt} image is not valid base64: {error}") from None
    newline = b"\r\n" if b"\r\n" in payload else b"\n"
    return TextImage(
        data=data,
        format=fmt,
        prefix=prefix,
        urlsafe=urlsafe,
        padded=compact.endswith(b"=") or len(compact) % 4 == 0,
        line_length=len(lines[0]) if len(lines) > 1 else 0,
        newline=newline,
    )


def encode_text_image(data: bytes, style: TextImage) -> bytes:
    """``data`` written in ``style``'s alphabet, padding, wrapping and prefix.

    >>> gif_1px = b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    >>> style = decode_text_image(b"data:image/gif;base64," + gif_1px)
    >>> encode_text_image(b"GIF89a", style)[:30]
    b'data:image/gif;base64,R0lGODlh'
    """
    text = (base64.urlsafe_b64encode if style.urlsafe else base64.b64encode)(data)
    if not style.padded:
        text = text.rstrip(b"=")
    if style.line_length:
        step = style.line_length
        text = style.newline.join(text[i : i + step] for i in range(0, len(text), step))
    return style.prefix + text
