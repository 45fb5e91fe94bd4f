"""Find the images in an upload body and rewrite them in place, every other byte kept.

Images are recognised by their bytes (``filters.codecs.formats.sniff_format``), not by what a
Content-Type claims: browsers label many files ``application/octet-stream``. The shapes: a
multipart part (Mastodon, Telegram, Reddit...), the whole raw body (Bluesky, Instagram,
Discord's PUT...), and images written as base64 or data URLs in a multipart text field, a
JSON string, a form field or a raw text body (X's ``media_data``, Imgur). The caller has
already decoded Content-Encoding and fixes Content-Length afterwards. Pure functions;
nothing from mitmproxy or torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from filters.codecs.formats import sniff_format
from proxy.headers import parse_header_params
from proxy.multipart import MalformedBody, Multipart, parse_form
from proxy.shapes.forms import find_form_images
from proxy.shapes.jsonbody import find_json_images, looks_like_json
from proxy.shapes.textimage import decode_text_image, encode_text_image
from proxy.shapes.traces import ImageTrace, find_image_trace
from proxy.shapes.types import splice

__all__ = [
    "FoundImages",
    "ImageSlot",
    "ImageTransform",
    "MalformedBody",
    "find_images",
    "rewrite_body",
]

Location = Literal["multipart", "body", "json", "form"]
Encoding = Literal["binary", "base64"]


@dataclass(frozen=True)
class ImageSlot:
    """Where an image was found in a body.

    Attributes:
        index: the part's position among all parts of a multipart body; for JSON and form
            bodies the image's position among the images found; 0 for a raw body.
        location: ``"multipart"`` (one part), ``"body"`` (the whole body), ``"json"`` (a
            string value) or ``"form"`` (an urlencoded field).
        field_name: the form field, JSON key or multipart field name.
        filename: the file name a multipart part announces.
        content_type: the media type announced for the part, or the request's.
        format: the format sniffed from the image's bytes (``"JPEG"``, ``"PNG"``...).
        encoding: ``"binary"``, or ``"base64"`` for base64 text and data URLs.
    """

    index: int
    location: Location
    field_name: str | None
    filename: str | None
    content_type: str | None
    format: str
    encoding: Encoding = "binary"


# Returns the new image bytes; raises to signal failure (the caller applies the failure rule).
ImageTransform = Callable[[bytes, ImageSlot], bytes]
_Render = Callable[[bytes], bytes]


@dataclass(frozen=True)
class _Hit:
    slot: ImageSlot
    data: bytes  # the image file
    span: tuple[int, int]  # in the body, or in the part's body for multipart
    render: _Render  # new image bytes -> the bytes that fill the span


def _media_type(content_type: str | None) -> str | None:
    """The lower-cased media type of a Content-Type, without parameters."""
    if not content_type:
        return None
    return parse_header_params(content_type)[0] or None


def _same(data: bytes) -> bytes:
    return data


def _multipart_hits(multipart: Multipart) -> list[_Hit]:
    hits = []
    for index, part in enumerate(multipart.parts):
        whole = (0, len(part.body))
        fmt = sniff_format(part.body)
        meta = (index, "multipart", part.name, part.filename, part.content_type)
        if fmt is not None:
            hits.append(_Hit(ImageSlot(*meta, fmt), part.body, whole, _same))  # type: ignore[arg-type]
        elif (text := decode_text_image(part.body)) is not None:
            slot = ImageSlot(*meta, text.format, "base64")  # type: ignore[arg-type]
            hits.append(_Hit(slot, text.data, whole, _styled(text)))
    return hits


def _styled(text: object) -> _Render:
    return lambda data: encode_text_image(data, text)  # type: ignore[arg-type]


def _text_hits(location: Location, content_type: str | None, body: bytes) -> list[_Hit]:
    finder = find_json_images if location == "json" else find_form_images
    hits = []
    for index, image in enumerate(finder(body)):
        encoding: Encoding = "binary" if image.encoding == "binary" else "base64"
        meta = (index, location, image.field_name, None, content_type, image.format, encoding)
        hits.append(_Hit(ImageSlot(*meta), image.data, (image.start, image.end), image.render))
    return hits


def _hits(content_type: str | None, body: bytes, multipart: Multipart | None) -> list[_Hit]:
    if multipart is not None:
        return _multipart_hits(multipart)
    media_type = _media_type(content_type)
    fmt = sniff_format(body)
    if fmt is not None:
        return [
            _Hit(ImageSlot(0, "body", None, None, media_type, fmt), body, (0, len(body)), _same)
        ]
    if media_type == "application/x-www-form-urlencoded":
        return _text_hits("form", media_type, body)
    if (media_type or "").endswith(("/json", "+json")) or looks_like_json(body):
        return _text_hits("json", media_type, body)
    text = decode_text_image(body)
    if text is None:
        return []
    slot = ImageSlot(0, "body", None, None, media_type, text.format, "base64")
    return [_Hit(slot, text.data, (0, len(body)), _styled(text))]


@dataclass(frozen=True)
class FoundImages:
    """The images of one body, found once: what rewriting them uses.

    Attributes:
        content_type: the request's Content-Type header, if any.
        body: the decoded request body.
        multipart: its parts when it is multipart.
    """

    content_type: str | None
    body: bytes
    multipart: Multipart | None
    hits: tuple[_Hit, ...]

    @property
    def slots(self) -> list[ImageSlot]:
        """Every image, in body order."""
        return [hit.slot for hit in self.hits]

    def images(self) -> list[tuple[bytes, ImageSlot]]:
        """Every image's bytes (decoded from base64 where it was text) and slot, in order."""
        return [(hit.data, hit.slot) for hit in self.hits]

    def trace(self) -> ImageTrace | None:
        """Image data outside the images found: what Veil would let out unprotected.

        The failure rule applies to an upload with a trace: a part that starts with a line
        break, a nested ``multipart/mixed``, base64 in a place no shape reads.
        """
        if self.multipart is not None:
            rewritten = {hit.slot.index for hit in self.hits}
            regions = [("the preamble", self.multipart.preamble)]
            regions += [
                (f"part {index + 1}", part.body)
                for index, part in enumerate(self.multipart.parts)
                if index not in rewritten
            ]
            regions.append(("the epilogue", self.multipart.epilogue))
            return find_image_trace(regions)
        gaps, cursor = [], 0
        for start, end in sorted(hit.span for hit in self.hits):
            gaps.append(self.body[cursor:start])
            cursor = end
        gaps.append(self.body[cursor:])
        # The gaps around text images are joined: a trace split by one is still seen whole.
        return find_image_trace([("the body", b"\x00".join(gaps))])

    def rewrite(self, transform: ImageTransform) -> bytes:
        """Pass every image through ``transform`` and put the result in its place.

        Only the bytes of each image change (re-encoded as base64 in the client's style where
        it was base64); the preamble, delimiters, headers, other parts, other fields and
        epilogue stay byte-identical. With no image the body is returned as it came.

        Args:
            transform: called once per image with its bytes and slot; returns the new bytes.

        Raises:
            MalformedBody: a new image contains the multipart boundary.
            TypeError: ``transform`` returned something other than bytes.
            Exception: whatever ``transform`` raises, unchanged.
        """
        if not self.hits:
            return self.body
        if self.multipart is None:
            replacements = [
                (*hit.span, hit.render(_checked(transform(hit.data, hit.slot))))
                for hit in self.hits
            ]
            return splice(self.body, replacements)
        multipart = self.multipart
        for hit in self.hits:
            new = hit.render(_checked(transform(hit.data, hit.slot)))
            multipart = multipart.replace_body(hit.slot.index, new)
        return multipart.serialize()


def find_images(
    content_type: str | None, body: bytes, multipart: Multipart | None = None
) -> FoundImages:
    """Every image in an upload body, in body order.

    Args:
        content_type: the request's Content-Type header, if any.
        body: the decoded request body.
        multipart: the body's parts when the caller has parsed them already (the adapters
            have); parsed here when the Content-Type says multipart and they are not given.

    Raises:
        MalformedBody: the Content-Type says multipart but the body cannot be split into
            parts, or a value starts like a base64 image but is not valid base64.

    >>> find_images("application/json", b'{"a": 1}').slots
    []
    >>> find_images(None, b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8)).slots[0].format
    'PNG'
    """
    if not body:
        return FoundImages(content_type, body, None, ())
    if multipart is None:
        multipart = parse_form(content_type, body)
    return FoundImages(content_type, body, multipart, tuple(_hits(content_type, body, multipart)))


def rewrite_body(
    content_type: str | None, body: bytes, transform: ImageTransform
) -> tuple[bytes, list[ImageSlot]]:
    """Find every image of a body and rewrite it: :meth:`FoundImages.rewrite` in one call.

    Returns:
        The new body and the slots that were rewritten.
    """
    found = find_images(content_type, body)
    return found.rewrite(transform), found.slots


def _checked(new: object) -> bytes:
    if not isinstance(new, bytes | bytearray | memoryview):
        raise TypeError(f"image transform returned {type(new).__name__}, not bytes")
    return bytes(new)
