"""Images in ``application/x-www-form-urlencoded`` fields: base64, data URLs or raw bytes.

Imgur and X's ``media_data`` take base64 in a form field; a few clients percent-encode the
file itself. Only the value that holds the image changes, in the escaping the client used.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote_from_bytes, unquote_to_bytes

from filters.codecs.formats import IMAGE_MAGIC_MIN_BYTES, sniff_format
from proxy.shapes.textimage import TextImage, decode_text_image, encode_text_image
from proxy.shapes.types import EmbeddedImage

__all__ = ["MIN_BINARY_IMAGE_BYTES", "find_form_images"]

# Below this no image file is complete (the smallest valid GIF is 26 bytes); shorter values
# that start with a magic number are just data.
MIN_BINARY_IMAGE_BYTES = 26


def _text_renderer(style: TextImage, quoted: bool) -> Callable[[bytes], bytes]:
    def render(data: bytes) -> bytes:
        text = encode_text_image(data, style)
        return quote_from_bytes(text, safe="").encode() if quoted else text

    return render


def _binary(data: bytes) -> bytes:
    return quote_from_bytes(data, safe="").encode()


def find_form_images(body: bytes) -> list[EmbeddedImage]:
    """Every form field whose value holds an image, in body order.

    Raises:
        MalformedBody: a value starts like a base64 image but is not valid base64.

    >>> gif_1px = b"R0lGODlhAQABAIAAAAAAAP%2F%2F%2FyH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    >>> [i.field_name for i in find_form_images(b"type=base64&image=" + gif_1px)]
    ['image']
    """
    found: list[EmbeddedImage] = []
    offset = 0
    for pair in body.split(b"&"):
        start, offset = offset, offset + len(pair) + 1
        name, equals, value = pair.partition(b"=")
        if not equals or not value:
            continue
        field = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8", "replace")
        value_start = start + len(name) + 1
        value_end = value_start + len(value)
        # In base64 a raw "+" is the alphabet's, not a space; in percent-encoded bytes it is one.
        text = unquote_to_bytes(value)
        image = decode_text_image(text)
        if image is not None:
            render = _text_renderer(image, quoted=b"%" in value)
            found.append(
                EmbeddedImage(value_start, value_end, field, image.data, image.format, render)
            )
            continue
        raw = unquote_to_bytes(value.replace(b"+", b" "))
        fmt = sniff_format(raw[:IMAGE_MAGIC_MIN_BYTES])
        if fmt is not None and len(raw) >= MIN_BINARY_IMAGE_BYTES:
            found.append(EmbeddedImage(value_start, value_end, field, raw, fmt, _binary, "binary"))
    return found
