"""Finding and rewriting images in upload bodies, with real photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from proxy import uploads
from proxy.multipart import MalformedBody, parse_multipart
from proxy.uploads import ImageSlot, find_images, rewrite_body
from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body, noisy_bytes

FORM = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(96, 72))


@pytest.fixture(scope="module")
def png() -> bytes:
    buffer = io.BytesIO()
    Image.open(photo_path("coffee")).resize((40, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def reencode(data: bytes, slot: ImageSlot) -> bytes:
    """A real transform: decode and save again without metadata."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, slot.format, quality=70)
    return buffer.getvalue()


def browser_form(photo: bytes, pdf: bytes = b"%PDF-1.4\r\n%\xe2\xe3\r\n") -> bytes:
    """Text fields, an image file part and another file, as Chromium frames them."""
    return form_body(
        [
            field("description", "Un été à Paris\r\n--line two".encode()),
            file_part("file", "IMG_0042.jpg", "image/jpeg", photo),
            file_part("attachment", "notes.pdf", "application/pdf", pdf),
            field("visibility", b"public"),
        ]
    )


def test_browser_form_finds_the_image_part(photo: bytes) -> None:
    assert find_images(FORM, browser_form(photo)).slots == [
        ImageSlot(1, "multipart", "file", "IMG_0042.jpg", "image/jpeg", "JPEG")
    ]


def test_rewriting_changes_only_the_image_bytes(photo: bytes) -> None:
    body = browser_form(photo)
    new_body, slots = rewrite_body(FORM, body, reencode)
    new_image = parse_multipart(new_body, BOUNDARY).parts[1].body
    start = body.index(photo)
    assert new_body == body[:start] + new_image + body[start + len(photo) :]
    assert new_image != photo and Image.open(io.BytesIO(new_image)).size == (96, 72)
    assert Image.open(io.BytesIO(new_image)).getexif() == {}  # the re-encode dropped GPS & co
    assert [slot.index for slot in slots] == [1]


def test_octet_stream_part_is_recognised_by_its_bytes(png: bytes) -> None:
    body = form_body([file_part("media", "blob", "application/octet-stream", png)])
    assert find_images(FORM, body).slots == [
        ImageSlot(0, "multipart", "media", "blob", "application/octet-stream", "PNG")
    ]


def test_several_images_each_pass_through_the_transform(photo: bytes, png: bytes) -> None:
    parts = [file_part("a", "a.jpg", "image/jpeg", photo), field("x", b"1")]
    body = form_body([*parts, file_part("b", "b.png", "image/png", png)])
    seen: list[tuple[int, str]] = []

    def tag(data: bytes, slot: ImageSlot) -> bytes:
        seen.append((slot.index, slot.format))
        return data + f"<{slot.index}>".encode()

    new_body, _ = rewrite_body(FORM, body, tag)
    parts = parse_multipart(new_body, BOUNDARY).parts
    assert seen == [(0, "JPEG"), (2, "PNG")]
    assert [part.body for part in parts] == [photo + b"<0>", b"1", png + b"<2>"]


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/octet-stream", None])
def test_raw_body_image_is_replaced_whole(photo: bytes, content_type: str | None) -> None:
    new_body, slots = rewrite_body(content_type, photo, reencode)
    assert slots == [ImageSlot(0, "body", None, None, content_type, "JPEG")]
    assert new_body != photo and Image.open(io.BytesIO(new_body)).format == "JPEG"


NON_IMAGES = {
    "json": ("application/json", b'{"status": "hello", "media_ids": ["1"]}'),
    "form": ("application/x-www-form-urlencoded", b"a=1&b=%FF%D8%FF"),
    "none": (None, b""),
    "image-label-only": ("image/jpeg", b"not really a jpeg"),
}


@pytest.mark.parametrize(("content_type", "body"), NON_IMAGES.values(), ids=NON_IMAGES.keys())
def test_non_image_bodies_are_untouched(content_type: str | None, body: bytes) -> None:
    def never(data: bytes, slot: ImageSlot) -> bytes:
        raise AssertionError("transform called for a non-image")

    assert find_images(content_type, body).slots == []
    new_body, slots = rewrite_body(content_type, body, never)
    assert new_body is body and slots == []


def test_multipart_without_images_is_untouched() -> None:
    body = browser_form(noisy_bytes(3, 400))  # binary, but no image signature
    new_body, slots = rewrite_body(FORM, body, reencode)
    assert new_body is body and slots == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", form_body([field("a", b"1")])),
        (FORM, b"--" + BOUNDARY.encode() + b"\r\n\r\n\xff\xd8\xff\xe0 cut short"),
        ("multipart/form-data; boundary=other", form_body([field("a", b"1")])),
    ],
)
def test_malformed_multipart_raises(content_type: str, body: bytes) -> None:
    with pytest.raises(MalformedBody):
        find_images(content_type, body)
    with pytest.raises(MalformedBody):
        rewrite_body(content_type, body, reencode)


def test_transform_errors_propagate_unchanged(photo: bytes) -> None:
    error = OSError("filter failed")

    def broken(data: bytes, slot: ImageSlot) -> bytes:
        raise error

    for content_type, body in [(FORM, browser_form(photo)), ("image/jpeg", photo)]:
        with pytest.raises(OSError) as caught:
            rewrite_body(content_type, body, broken)
        assert caught.value is error


def test_transform_must_return_bytes(photo: bytes) -> None:
    with pytest.raises(TypeError, match="not bytes"):
        rewrite_body("image/jpeg", photo, lambda data, slot: None)  # type: ignore[arg-type,return-value]


def test_new_image_containing_the_boundary_is_refused(photo: bytes) -> None:
    with pytest.raises(MalformedBody, match="boundary"):
        rewrite_body(
            FORM, browser_form(photo), lambda data, slot: data + b"\r\n--" + BOUNDARY.encode()
        )


def test_public_surface_matches_all() -> None:
    exported = {name for name in vars(uploads) if not name.startswith("_")}
    assert set(uploads.__all__) <= exported
    own = {
        name
        for name, value in vars(uploads).items()
        if getattr(value, "__module__", None) == uploads.__name__ and not name.startswith("_")
    }
    assert own <= set(uploads.__all__)


def encoded_as(fmt: str, **options: object) -> bytes:
    image = Image.open(photo_path("coffee")).convert("RGB").resize((32, 24))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


FORMATS = {
    "JPEG": ("JPEG", {}),
    "PNG": ("PNG", {}),
    "WEBP": ("WEBP", {"lossless": True}),
    "GIF": ("GIF", {}),
    "TIFF": ("TIFF", {}),
    "BMP": ("BMP", {}),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_found_raw_and_in_a_form(fmt: str) -> None:
    save_as, options = FORMATS[fmt]
    data = encoded_as(save_as, **options)
    assert [s.format for s in find_images("application/octet-stream", data).slots] == [fmt]
    body = form_body([field("a", b"1"), file_part("f", "blob", "application/octet-stream", data)])
    assert [(s.index, s.format) for s in find_images(FORM, body).slots] == [(1, fmt)]


def test_heif_and_avif_are_found() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    heic = encoded_as("HEIF", quality=60)
    assert [s.format for s in find_images("image/heic", heic).slots] == ["HEIF"]
    try:
        avif = encoded_as("AVIF", quality=60)
    except (KeyError, OSError, ValueError):
        pytest.skip("no AVIF encoder in this Pillow")
    assert [s.format for s in find_images(None, avif).slots] == ["AVIF"]
