"""filters/codec.py: format, dimensions, encoder settings and metadata survive a round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from filters import ProtectionError, UnsupportedImageError
from filters.codecs import (
    MAX_PIXELS,
    decode,
    encode,
    lossy_quality,
    orientation,
    sent_pixels,
    thumbnail,
)
from filters.codecs.photo import Photo
from tests.conftest import TAG_ORIENTATION, jpeg_with_private_metadata
from tests.photos import encoded, opened, real_image


def changed(photo):
    """The photo with new pixels (one level brighter), so the encoder must re-encode."""
    return photo.with_pixels(np.minimum(photo.pixels, 254) + 1)


@pytest.mark.parametrize("subsampling", [0, 1, 2])
@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_reencode_keeps_tables_subsampling_progressive(subsampling, progressive):
    data = encoded(
        real_image(), "JPEG", quality=83, subsampling=subsampling, progressive=progressive
    )
    photo = decode(data)
    out = opened(encode(changed(photo)))
    original = opened(data)
    assert out.format == "JPEG" and out.size == original.size
    assert out.quantization == original.quantization
    assert JpegImagePlugin.get_sampling(out) == subsampling
    assert bool(out.info.get("progressive")) == progressive


def test_jpeg_untouched_pixels_are_copied_bit_for_bit(private_jpeg):
    out = encode(decode(private_jpeg))
    assert np.array_equal(np.asarray(opened(out)), np.asarray(opened(private_jpeg)))
    assert len(out) == len(private_jpeg)


def test_jpeg_codec_keeps_all_metadata_and_orientation(photo_file):
    data = jpeg_with_private_metadata(photo_file, size=(320, 240), orientation=6)
    for photo in (decode(data), changed(decode(data))):
        out = opened(encode(photo))
        assert out.size == (320, 240)  # pixels not transposed
        assert out.getexif()[TAG_ORIENTATION] == 6
        assert out.getexif().get_ifd(0x8825)  # GPS: only the metadata filter removes it
        assert out.info["icc_profile"] == opened(data).info["icc_profile"]
        assert b"Photoshop 3.0" in encode(photo) and out.info["comment"] == b"shot at home"
        assert "xmp" in out.info


def test_grey_jpeg_stays_grey():
    data = encoded(real_image().convert("L"), "JPEG", quality=90)
    photo = decode(data)
    assert photo.mode == "L" and photo.pixels.shape == (240, 320, 3)
    assert opened(encode(changed(photo))).mode == "L"


def test_png_alpha_and_pixels_kept_exactly():
    rgba = np.dstack([np.asarray(real_image()), np.tile(np.arange(320, dtype=np.uint8), (240, 1))])
    data = encoded(Image.fromarray(rgba), "PNG")
    photo = decode(data)
    assert photo.mode == "RGBA" and np.array_equal(photo.alpha, rgba[:, :, 3])
    new = changed(photo)
    out = np.asarray(opened(encode(new)))
    assert np.array_equal(out[:, :, 3], rgba[:, :, 3])
    assert np.array_equal(out[:, :, :3], new.pixels)


def test_png_palette_is_kept_when_pixels_change():
    data = encoded(real_image().convert("P", colors=64, palette=Image.Palette.ADAPTIVE), "PNG")
    photo = decode(data)
    assert photo.mode == "P" and photo.encoding.colors == 64
    assert encode(photo) == data  # untouched: the original image data
    out = opened(encode(changed(photo)))
    assert out.mode == "P" and len(out.getpalette()) // 3 <= 64
    assert np.array_equal(np.asarray(out.convert("RGB")), sent_pixels(changed(photo)))


def test_sixteen_bit_grey_png_stays_sixteen_bit():
    eight = np.asarray(real_image().convert("L")).astype(np.int32)
    grey = (eight * 257 + 3).clip(0, 65535)  # low bits that 8-bit pixels cannot hold
    data = encoded(Image.frombytes("I;16B", (320, 240), grey.astype(">u2").tobytes()), "PNG")
    photo = decode(data)
    assert photo.mode == "L" and photo.encoding.bits == 16
    assert np.array_equal(photo.pixels[:, :, 0], eight)
    new = changed(photo)
    out = opened(encode(new))
    step = new.pixels[:, :, 0].astype(np.int32) - eight
    assert out.mode == "I;16" and np.array_equal(
        np.asarray(out), (grey + 257 * step).clip(0, 65535)
    )
    assert np.array_equal(decode(encode(new)).pixels, new.pixels)


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_keeps_lossless_flag_alpha_and_icc(lossless):
    rgba = real_image().convert("RGBA")
    rgba.putalpha(128)
    data = encoded(rgba, "WEBP", lossless=lossless, quality=80, icc_profile=b"profile" * 20)
    photo = decode(data)
    assert photo.encoding.lossless is lossless
    out = encode(changed(photo))
    assert (b"VP8L" in out) is lossless and (b"VP8 " in out) is not lossless
    image = opened(out)
    assert image.size == (320, 240) and image.mode == "RGBA"
    assert image.info["icc_profile"] == b"profile" * 20
    assert np.array_equal(np.asarray(image)[:, :, 3], np.full((240, 320), 128))
    if lossless:
        assert np.array_equal(np.asarray(image)[:, :, :3], changed(photo).pixels)


def test_sent_pixels_are_what_a_reader_decodes():
    photo = changed(decode(encoded(real_image(), "JPEG", quality=75)))
    assert np.array_equal(sent_pixels(photo), decode(encode(photo)).pixels)
    assert not np.array_equal(sent_pixels(photo), photo.pixels)  # JPEG is lossy


def test_a_checked_photo_is_encoded_once_and_others_afresh():
    photo = changed(decode(encoded(real_image(), "JPEG", quality=75)))
    seen = sent_pixels(photo)
    assert sent_pixels(photo) is seen and not seen.flags.writeable
    twin = photo.with_pixels(photo.pixels.copy())  # same pixels, another photo
    assert encode(photo) == encode(twin)
    brighter = changed(photo)
    assert not np.array_equal(sent_pixels(brighter), seen)
    assert np.array_equal(sent_pixels(brighter), decode(encode(brighter)).pixels)


@pytest.mark.parametrize("quality", [60, 85, 95])
def test_lossy_quality_is_read_from_the_jpeg_tables(quality):
    photo = decode(encoded(real_image(), "JPEG", quality=quality))
    assert abs(lossy_quality(photo) - quality) <= 1
    assert lossy_quality(decode(encoded(real_image(), "PNG"))) is None
    assert lossy_quality(decode(encoded(real_image(), "WEBP", lossless=True))) is None


@pytest.mark.parametrize("kind", ["BMP", "TIFF"])
def test_other_formats_are_not_supported_yet(kind):
    with pytest.raises(UnsupportedImageError, match="not supported yet"):
        decode(encoded(real_image(), kind))


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"\xff\xd8\xff\xe0" + bytes(40), b"\x89PNG\r\n\x1a\n" + bytes(30)],
)
def test_garbage_is_a_protection_error(data):
    with pytest.raises(ProtectionError):
        decode(data)


def test_truncated_jpeg_is_a_protection_error(private_jpeg):
    with pytest.raises(ProtectionError, match="JPEG"):
        decode(private_jpeg[: len(private_jpeg) // 2])


@pytest.mark.parametrize("side", [9500, 20000])  # over our limit; over Pillow's too
def test_decompression_bomb_is_refused_before_decoding(side):
    data = bytearray(encoded(real_image(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = side.to_bytes(2, "big") * 2  # claim side x side pixels
    with pytest.raises(ProtectionError, match=f"over the limit of {MAX_PIXELS} pixels"):
        decode(bytes(data))


def test_thumbnail_is_small_and_upright(photo_file):
    photo = decode(jpeg_with_private_metadata(photo_file, size=(320, 240), orientation=6))
    assert orientation(photo) == 6
    thumb = Image.open(io.BytesIO(thumbnail(photo)))
    assert thumb.format == "JPEG" and thumb.size == (192, 256)  # rotated for display


@pytest.mark.parametrize(("size", "expected"), [((1500, 1100), (256, 188)), ((3000, 3), (256, 1))])
def test_thumbnail_of_a_large_photo_keeps_its_aspect_and_flattens_alpha(size, expected):
    width, height = size
    pixels = np.full((height, width, 3), 40, np.uint8)
    alpha = np.full((height, width), 255, np.uint8)
    alpha[:, : width // 2] = 0  # the left half transparent: white in the thumbnail
    thumb = np.asarray(Image.open(io.BytesIO(thumbnail(Photo(pixels, "PNG", "RGBA", alpha)))))
    assert thumb.shape[1::-1] == expected
    assert thumb[:, :100].min() >= 245 and thumb[:, -100:].max() <= 50
