"""Find the images in an upload body and rewrite them in place, every other byte kept.

Images are recognised by their bytes (``filters.formats.sniff_format``), not by what a
Content-Type claims: browsers label many files ``application/octet-stream``. Two shapes carry
them: a multipart part (Mastodon, Telegram, Reddit...) or the whole raw body (Bluesky,
Instagram, Discord's PUT...). The caller has already decoded Content-Encoding and fixes
Content-Length afterwards. Pure functions; nothing from mitmproxy or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from filters.formats import sniff_format
from proxy.multipart import (
    MalformedBody,
    Multipart,
    boundary_from_content_type,
    parse_header_params,
    parse_multipart,
)

__all__ = ["ImageSlot", "ImageTransform", "MalformedBody", "find_images", "rewrite_body"]


@dataclass(frozen=True)
class ImageSlot:
    """Where an image was found in a body.

    Attributes:
        index: the part's position among all parts of a multipart body; 0 for a raw body.
        location: ``"multipart"`` (one part) or ``"body"`` (the whole body).
        field_name: the form field of a multipart part.
        filename: the file name a multipart part announces.
        content_type: the media type announced for the part, or for a raw body the request's.
        format: the format sniffed from the bytes (``"JPEG"``, ``"PNG"``...).
    """

    index: int
    location: Literal["multipart", "body"]
    field_name: str | None
    filename: str | None
    content_type: str | None
    format: str


# Returns the new image bytes; raises to signal failure (the caller applies the failure rule).
ImageTransform = Callable[[bytes, ImageSlot], bytes]


def _media_type(content_type: str | None) -> str | None:
    """The lower-cased media type of a Content-Type, without parameters."""
    if not content_type:
        return None
    return parse_header_params(content_type)[0] or None


def _parse(content_type: str | None, body: bytes) -> Multipart | None:
    """The parsed body when the Content-Type says multipart, else None."""
    media_type = _media_type(content_type)
    if content_type is None or media_type is None or not media_type.startswith("multipart/"):
        return None
    return parse_multipart(body, boundary_from_content_type(content_type))


def _slots(content_type: str | None, body: bytes, multipart: Multipart | None) -> list[ImageSlot]:
    if multipart is None:
        fmt = sniff_format(body)
        if fmt is None:
            return []
        return [ImageSlot(0, "body", None, None, _media_type(content_type), fmt)]
    slots = []
    for index, part in enumerate(multipart.parts):
        fmt = sniff_format(part.body)
        if fmt is not None:
            slots.append(
                ImageSlot(index, "multipart", part.name, part.filename, part.content_type, fmt)
            )
    return slots


def find_images(content_type: str | None, body: bytes) -> list[ImageSlot]:
    """Every image in an upload body, in body order.

    Args:
        content_type: the request's Content-Type header, if any.
        body: the decoded request body.

    Raises:
        MalformedBody: the Content-Type says multipart but the body cannot be split into parts.

    >>> find_images("application/json", b'{"a": 1}')
    []
    >>> find_images(None, b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))[0].format
    'PNG'
    """
    return _slots(content_type, body, _parse(content_type, body))


def rewrite_body(
    content_type: str | None, body: bytes, transform: ImageTransform
) -> tuple[bytes, list[ImageSlot]]:
    """Pass every image of a body through ``transform`` and put the result in its place.

    In a multipart body only the image parts' bytes change; the preamble, delimiters,
    headers, other parts and epilogue stay byte-identical. With no image the body is
    returned as it came, with an empty list.

    Args:
        content_type: the request's Content-Type header, if any.
        body: the decoded request body.
        transform: called once per image with its bytes and slot; returns the new bytes.

    Returns:
        The new body and the slots that were rewritten.

    Raises:
        MalformedBody: as ``find_images``, or a new image contains the multipart boundary.
        TypeError: ``transform`` returned something other than bytes.
        Exception: whatever ``transform`` raises, unchanged.
    """
    multipart = _parse(content_type, body)
    slots = _slots(content_type, body, multipart)
    if not slots:
        return body, []
    if multipart is None:  # the whole body is the image
        return _checked(transform(body, slots[0])), slots
    for slot in slots:
        new = _checked(transform(multipart.parts[slot.index].body, slot))
        multipart = multipart.replace_body(slot.index, new)
    return multipart.serialize(), slots


def _checked(new: object) -> bytes:
    if not isinstance(new, bytes | bytearray | memoryview):
        raise TypeError(f"image transform returned {type(new).__name__}, not bytes")
    return bytes(new)
