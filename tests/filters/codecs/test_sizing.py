"""filters/codecs/sizing.py: a file of exactly the announced size, padded where readers skip."""

from __future__ import annotations

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from filters import FilterSettings, ProtectionError
from filters.codecs import decode, encode, orientation
from filters.codecs.giffile import pad_gif
from filters.codecs.jpegfile import pad_jpeg
from filters.codecs.pngfile import pad_png
from filters.codecs.sizing import encode_to_size, pad_to_size, scaled_qtables
from filters.codecs.webpfile import pad_webp
from filters.metadata import MetadataFilter
from tests.conftest import IFD_GPS, jpeg_with_private_metadata, private_exif
from tests.photos import encoded, opened, real_image

pillow_heif.register_heif_opener()
SIZE = (96, 64)


def sample(kind: str) -> bytes:
    image = real_image(size=SIZE)
    options = {
        "JPEG": {"quality": 80, "optimize": True},
        "WEBP": {"quality": 80},
        "HEIF": {"quality": 70},
    }
    return encoded(image, kind, **options.get(kind, {}))


def changed(photo):
    """New pixels with fine detail, so that a re-encode at the same settings grows."""
    noise = np.random.default_rng(0).integers(-24, 25, photo.pixels.shape)
    return photo.with_pixels((photo.pixels.astype(int) + noise).clip(0, 255).astype(np.uint8))


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF"])
@pytest.mark.parametrize("extra", [3, 4, 5, 8, 12, 13, 1000, 70_001])
def test_padding_reaches_the_size_and_decodes_the_same(kind, extra):
    data = sample(kind)
    try:
        padded = pad_to_size(data, kind, len(data) + extra)
    except ProtectionError as exc:  # gaps under the smallest block; WebP's odd ones
        assert extra < 13 or (kind == "WEBP" and extra % 2), exc
        return
    assert len(padded) == len(data) + extra
    image = opened(padded)
    assert image.format == opened(data).format and image.size == SIZE
    assert np.array_equal(np.asarray(image), np.asarray(opened(data)))
    padding = decode(padded).metadata.comments  # JPEG and GIF pad with empty comments
    assert all(not any(comment) for comment in padding)


def test_smallest_gaps_per_container():
    jpeg, png, webp, gif = (sample(k) for k in ("JPEG", "PNG", "WEBP", "GIF"))
    assert len(pad_jpeg(jpeg, len(jpeg) + 4)) == len(jpeg) + 4
    assert len(pad_png(png, len(png) + 12)) == len(png) + 12
    assert len(pad_gif(gif, len(gif) + 3)) == len(gif) + 3
    for pad, data, gap in [(pad_jpeg, jpeg, 3), (pad_png, png, 11), (pad_gif, gif, 4)]:
        with pytest.raises(ProtectionError, match="pad"):
            pad(data, len(data) + gap)
    with pytest.raises(ProtectionError, match="even"):
        pad_webp(webp, len(webp) + 31)
    with pytest.raises(ProtectionError):
        pad_jpeg(jpeg, len(jpeg) - 1)


def test_metadata_only_is_padded_without_touching_pixels(private_jpeg):
    photo = MetadataFilter().apply(decode(private_jpeg), FilterSettings()).photo
    out = encode_to_size(photo, len(private_jpeg))
    assert len(out) == len(private_jpeg)
    assert np.array_equal(np.asarray(opened(out)), np.asarray(opened(private_jpeg)))
    assert b"shot at home" not in out and b"Canon" not in out


def test_heif_metadata_only_fits_by_re_encoding():
    data = encoded(real_image(size=SIZE), "HEIF", quality=40, exif=private_exif(6).tobytes())
    photo = MetadataFilter().apply(decode(data), FilterSettings()).photo
    assert len(encode(photo)) > len(data)  # the default quality alone does not fit
    out = encode_to_size(photo, len(data))
    assert len(out) == len(data) and orientation(decode(out)) == 6
    assert not opened(out).getexif().get_ifd(IFD_GPS)


@pytest.mark.parametrize("kind", ["JPEG", "WEBP", "HEIF", "AVIF", "GIF"])
def test_new_pixels_fit_the_original_size(kind):
    data = sample(kind)
    photo = changed(decode(data))
    assert len(encode(photo)) > len(data)  # else this test would prove nothing
    out = encode_to_size(photo, len(data))
    assert len(out) == len(data)
    again = decode(out)
    assert again.format == kind and (again.width, again.height) == SIZE
    assert np.abs(again.pixels.astype(int) - photo.pixels).mean() < 12


def test_jpeg_keeps_subsampling_and_progressive_when_tables_coarsen(photo_file):
    data = jpeg_with_private_metadata(photo_file, size=SIZE)
    data = encoded(opened(data), "JPEG", quality=95, subsampling=0, progressive=True)
    out = encode_to_size(changed(decode(data)), len(data))
    image = opened(out)
    assert len(out) == len(data) and image.info.get("progressive")
    assert decode(out).encoding.subsampling == 0


def test_lossless_that_cannot_fit_is_a_clear_error():
    data = encoded(Image.new("RGB", SIZE, (40, 80, 120)), "PNG")  # flat: tiny file
    with pytest.raises(ProtectionError, match=f"does not fit in the announced {len(data)} bytes"):
        encode_to_size(changed(decode(data)), len(data))


def test_scaled_tables_stay_in_baseline_range():
    assert scaled_qtables([[1, 128, 255]], 2.0) == ((2, 255, 255),)
