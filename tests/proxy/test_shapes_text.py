"""Images written as text (base64, data URLs) in JSON, forms, multipart fields and raw bodies."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import quote_from_bytes

import pytest
from PIL import Image

from proxy import shapes
from proxy.multipart import MalformedBody
from proxy.shapes.textimage import decode_text_image, encode_text_image
from proxy.uploads import ImageSlot, find_images, rewrite_body
from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.proxy.test_multipart import BOUNDARY, field, form_body

FORM = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(64, 48))


@pytest.fixture(scope="module")
def png() -> bytes:
    buffer = io.BytesIO()
    Image.open(photo_path("coffee")).resize((40, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def reencode(data: bytes, slot: ImageSlot) -> bytes:
    """A real transform: decode, invert the pixels, save again without metadata."""
    buffer = io.BytesIO()
    inverted = Image.eval(Image.open(io.BytesIO(data)).convert("RGB"), lambda v: 255 - v)
    inverted.save(buffer, slot.format, quality=60)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("prefix", "urlsafe", "wrap"),
    [(b"", False, 0), (b"data:image/jpeg;base64,", False, 0), (b"", True, 0), (b"", False, 76)],
)
def test_text_style_round_trips(photo: bytes, prefix: bytes, urlsafe: bool, wrap: int) -> None:
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(photo)
    if wrap:
        text = b"\r\n".join(text[i : i + wrap] for i in range(0, len(text), wrap))
    image = decode_text_image(prefix + text)
    assert image is not None and image.data == photo and image.format == "JPEG"
    assert encode_text_image(photo, image) == prefix + text


def test_text_that_is_not_an_image() -> None:
    assert decode_text_image(base64.b64encode(b"just some words, long enough to decode")) is None
    assert decode_text_image(b"data:text/plain;base64,aGVsbG8=") is None


def test_broken_base64_image_is_refused_not_passed(photo: bytes) -> None:
    text = base64.b64encode(photo)
    with pytest.raises(MalformedBody, match="outside base64"):
        decode_text_image(text[:100] + b"!" + text[100:])


def test_json_base64_field_is_rewritten_in_place(photo: bytes) -> None:
    encoded = base64.b64encode(photo).replace(b"/", b"\\/")  # PHP-style escaped slashes
    body = b'{"type": "base64",\n  "image": "' + encoded + b'", "title": "Caf\\u00e9"}'
    [slot] = find_images("application/json", body).slots
    assert slot == ImageSlot(0, "json", "image", None, "application/json", "JPEG", "base64")
    new_body, _ = rewrite_body("application/json", body, reencode)
    start = body.index(encoded)
    end = len(body) - (start + len(encoded))
    assert new_body[:start] == body[:start] and new_body[-end:] == body[-end:]
    document = json.loads(new_body)
    assert document["title"] == "Café"
    new_image = base64.b64decode(document["image"])
    assert new_image != photo and decoded(new_image).size == (64, 48)
    assert b"\\/" in new_body[start:-end] or b"/" not in new_body[start:-end]


def test_json_data_url_in_a_nested_array(png: bytes) -> None:
    url = b"data:image/png;base64," + base64.b64encode(png)
    body = b'{"files": [{"name": "a.png", "src": "' + url + b'"}]}'
    new_body, [slot] = rewrite_body("text/plain;charset=UTF-8", body, reencode)
    assert (slot.location, slot.field_name, slot.format) == ("json", "src", "PNG")
    src = json.loads(new_body)["files"][0]["src"]
    assert src.startswith("data:image/png;base64,") and src.encode() != url
    assert decoded(base64.b64decode(src.split(",", 1)[1])).size == (40, 30)


@pytest.mark.parametrize("quoted", [True, False])
def test_form_base64_field_keeps_its_escaping(photo: bytes, quoted: bool) -> None:
    text = base64.b64encode(photo)
    value = quote_from_bytes(text, safe="").encode() if quoted else text
    body = b"type=base64&image=" + value + b"&name=IMG%201.jpg"
    content_type = "application/x-www-form-urlencoded"
    [slot] = find_images(content_type, body).slots
    assert (slot.location, slot.field_name, slot.encoding) == ("form", "image", "base64")
    new_body, _ = rewrite_body(content_type, body, reencode)
    assert new_body.startswith(b"type=base64&image=") and new_body.endswith(b"&name=IMG%201.jpg")
    new_value = new_body[len(b"type=base64&image=") : -len(b"&name=IMG%201.jpg")]
    assert (b"%" in new_value) == quoted
    decoded(
        base64.b64decode(
            new_value.replace(b"%2B", b"+").replace(b"%2F", b"/").replace(b"%3D", b"=")
        )
    )


def test_form_percent_encoded_binary_image(png: bytes) -> None:
    body = b"a=1&file=" + quote_from_bytes(png).encode()
    content_type = "application/x-www-form-urlencoded"
    [slot] = find_images(content_type, body).slots
    assert (slot.field_name, slot.format, slot.encoding) == ("file", "PNG", "binary")


def test_multipart_base64_field_like_x_media_data(photo: bytes) -> None:
    body = form_body([field("command", b"APPEND"), field("media_data", base64.b64encode(photo))])
    [slot] = find_images(FORM, body).slots
    assert (slot.index, slot.field_name, slot.encoding) == (1, "media_data", "base64")
    new_body, _ = rewrite_body(FORM, body, reencode)
    assert new_body.startswith(body[: body.index(b"/9j/")])
    assert new_body.endswith(b"\r\n--" + BOUNDARY.encode() + b"--\r\n")


def test_raw_text_body_holding_a_data_url(png: bytes) -> None:
    body = b"data:image/png;base64," + base64.b64encode(png)
    new_body, [slot] = rewrite_body("text/plain", body, reencode)
    assert (slot.location, slot.encoding) == ("body", "base64")
    assert new_body.startswith(b"data:image/png;base64,") and new_body != body


def test_package_surface() -> None:
    for name in shapes.__all__:
        assert hasattr(shapes, name)
