"""Images as base64 or data URLs inside JSON string values (Imgur, X's ``media_data``, APIs).

Only the bytes of the string that holds the image change: keys, order, spacing and escapes
of everything else stay as the client wrote them, so no re-serialisation of the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from proxy.shapes.textimage import (
    MIN_TEXT_IMAGE_CHARS,
    TextImage,
    decode_text_image,
    encode_text_image,
)
from proxy.shapes.types import EmbeddedImage

__all__ = ["find_json_images", "looks_like_json"]

# A JSON string token, the loop unrolled so that megabytes of base64 match in one pass.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_KEY_FOLLOWS = re.compile(rb"\s*:")


def looks_like_json(body: bytes) -> bool:
    """Whether a body starts like a JSON object or array."""
    return body.lstrip()[:1] in (b"{", b"[")


def _renderer(style: TextImage, escaped_slash: bool) -> Callable[[bytes], bytes]:
    def render(data: bytes) -> bytes:
        text = encode_text_image(data, style)
        text = text.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
        return text.replace(b"/", b"\\/") if escaped_slash else text

    return render


def find_json_images(body: bytes) -> list[EmbeddedImage]:
    """Every string value of a JSON body that holds an image, in body order.

    Raises:
        MalformedBody: a value starts like a base64 image but is not valid base64.

    >>> gif_1px = b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    >>> body = b'{"a": "x", "media_data": "' + gif_1px + b'"}'
    >>> [(i.field_name, i.format) for i in find_json_images(body)]
    [('media_data', 'GIF')]
    """
    found: list[EmbeddedImage] = []
    key: str | None = None
    for match in _STRING.finditer(body):
        token = match.group(0)
        is_key = _KEY_FOLLOWS.match(body, match.end()) is not None
        if len(token) < MIN_TEXT_IMAGE_CHARS + 2 and not token.startswith(b'"data:'):
            if is_key:
                key = _text(token)
            continue
        if is_key:
            key = _text(token)
            continue
        try:
            value = json.loads(token).encode("latin-1", "replace")
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        image = decode_text_image(value)
        if image is None:
            continue
        render = _renderer(image, b"\\/" in token)
        start, end = match.start() + 1, match.end() - 1
        found.append(EmbeddedImage(start, end, key, image.data, image.format, render))
    return found


def _text(token: bytes) -> str | None:
    try:
        value = json.loads(token)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None
