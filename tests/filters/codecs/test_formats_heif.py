"""HEIF/HEIC (pillow-heif) and AVIF (Pillow's libavif): size, orientation, ICC, metadata."""

from __future__ import annotations

import numpy as np
import pillow_heif
import pytest
from PIL import features

from filters import FilterSettings, UnsupportedImageError
from filters.codecs import decode, encode, orientation
from filters.codecs.heiffile import pad_heif
from filters.metadata import MetadataFilter
from tests.conftest import IFD_GPS, TAG_MAKE, TAG_ORIENTATION, private_exif, srgb_icc
from tests.photos import encoded, opened, real_image

pillow_heif.register_heif_opener()
KINDS = [
    "HEIF",
    pytest.param("AVIF", marks=pytest.mark.skipif(not features.check("avif"), reason="no libavif")),
]
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


def phone_photo(kind: str, turn: int = 6) -> bytes:
    """A real photo as a phone writes it: rotated by metadata, with GPS, XMP and a profile."""
    return encoded(
        real_image(size=(96, 64)),
        kind,
        quality=80,
        exif=private_exif(turn).tobytes(),
        xmp=XMP,
        icc_profile=srgb_icc(),
    )


def changed(photo):
    return photo.with_pixels(np.minimum(photo.pixels, 250) + 5)


@pytest.mark.parametrize("kind", KINDS)
def test_decode_keeps_stored_pixels_and_orientation(kind):
    data = phone_photo(kind)
    photo = decode(data)
    assert photo.format == kind and (photo.width, photo.height) == (96, 64)
    assert orientation(photo) == 6 and photo.metadata.icc == srgb_icc()
    assert encode(photo) == data  # untouched: every byte kept
    difference = np.abs(photo.pixels.astype(int) - np.asarray(real_image(size=(96, 64))))
    assert difference.mean() < 4  # lossy, but the stored (unrotated) pixels


@pytest.mark.parametrize("kind", KINDS)
def test_new_pixels_keep_format_size_orientation_and_profile(kind):
    data = phone_photo(kind)
    photo = changed(decode(data))
    out = encode(photo)
    image = opened(out)
    assert image.format == kind and image.info["icc_profile"] == srgb_icc()
    assert image.size == opened(data).size  # same size as shown
    again = decode(out)
    assert (again.width, again.height) == (96, 64) and orientation(again) == 6
    assert np.abs(again.pixels.astype(int) - photo.pixels).mean() < 4


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_filter_strips_exif_and_xmp_keeps_orientation(kind):
    photo = decode(phone_photo(kind))
    result = MetadataFilter().apply(photo, FilterSettings())
    assert {"GPS", "Make", "XMP"} <= set(result.report["removed"])
    image = opened(encode(result.photo))
    exif = image.getexif()
    assert TAG_MAKE not in exif and not exif.get_ifd(IFD_GPS)
    assert not image.info.get("xmp") and image.info["icc_profile"] == srgb_icc()
    again = decode(encode(result.photo))
    assert orientation(again) == 6 and (again.width, again.height) == (96, 64)


def test_stripped_heif_keeps_its_rotation():
    data = encoded(real_image(size=(96, 64)), "HEIF", quality=80, exif=private_exif(8).tobytes())
    stripped = encode(MetadataFilter().apply(decode(data), FilterSettings()).photo)
    shown = opened(stripped)
    assert shown.size == (64, 96) and shown.getexif().get(TAG_ORIENTATION, 1) == 1
    assert decode(stripped).metadata.exif is not None and orientation(decode(stripped)) == 8


@pytest.mark.parametrize("kind", KINDS)
def test_free_box_padding_decodes_the_same(kind):
    data = phone_photo(kind)
    padded = pad_heif(data, len(data) + 1000)
    assert len(padded) == len(data) + 1000
    assert np.array_equal(np.asarray(opened(padded)), np.asarray(opened(data)))


def test_avif_needs_libavif_or_says_so():
    if features.check("avif"):
        assert decode(phone_photo("AVIF")).format == "AVIF"
    else:  # pragma: no cover - depends on how Pillow was built
        with pytest.raises(UnsupportedImageError, match="libavif"):
            decode(b"\x00\x00\x00\x1cftypavif" + bytes(40))
