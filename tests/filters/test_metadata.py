"""filters/metadata.py: private fields go, Orientation, ICC and the pixels stay."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from filters import FilterSettings
from filters.codecs import decode, encode
from filters.codecs.photo import Metadata
from filters.metadata import MetadataFilter, orientation_only_exif, strip_metadata
from tests.conftest import (
    IFD_EXIF,
    IFD_GPS,
    TAG_BODY_SERIAL,
    TAG_MAKE,
    TAG_MODEL,
    TAG_ORIENTATION,
    jpeg_with_private_metadata,
    srgb_icc,
)
from tests.photos import encoded, opened, real_image

PRIVATE_NAMES = {"GPS", "BodySerialNumber", "Make", "Model", "DateTimeOriginal", "XMP", "IPTC"}


def stripped(data: bytes) -> tuple[bytes, dict]:
    result = MetadataFilter()(decode(data), FilterSettings())
    return encode(result.photo), result.report


def test_private_jpeg_fields_removed_orientation_icc_pixels_kept(photo_file):
    data = jpeg_with_private_metadata(photo_file, size=(320, 240), orientation=6)
    out, report = stripped(data)
    image, original = opened(out), opened(data)
    exif = image.getexif()
    assert dict(exif) == {TAG_ORIENTATION: 6}
    assert not exif.get_ifd(IFD_GPS) and not exif.get_ifd(IFD_EXIF)
    assert TAG_MAKE not in exif and TAG_MODEL not in exif
    assert {"xmp", "photoshop", "comment"}.isdisjoint(image.info)
    assert [name for name, _ in image.applist] == ["APP0", "APP1", "APP2"]  # JFIF, EXIF, ICC
    for secret in (b"082021001234", b"Canon", b"GPSLatitude", b"Rue Example", b"shot at home"):
        assert secret not in out
    assert image.info["icc_profile"] == original.info["icc_profile"]
    assert image.format == "JPEG" and image.size == original.size
    assert np.array_equal(np.asarray(image), np.asarray(original))  # no re-encoding
    assert PRIVATE_NAMES | {"Comment", "Software"} <= set(report["removed"])
    assert report["kept"] == ["Orientation", "ICC"]


def test_serial_in_exif_ifd_is_reported_by_name(private_jpeg):
    exif = opened(private_jpeg).getexif()
    assert exif.get_ifd(IFD_EXIF)[TAG_BODY_SERIAL] == "082021001234"  # the fixture has it
    _out, report = stripped(private_jpeg)
    assert "BodySerialNumber" in report["removed"]


def exif_with_thumbnail() -> bytes:
    """EXIF whose IFD0 holds Orientation and whose IFD1 points at a thumbnail JPEG."""
    thumb = encoded(real_image(size=(32, 24)), "JPEG")
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHIHH", TAG_ORIENTATION, 3, 1, 3, 0)
    ifd1_at = 8 + len(ifd0) + 4
    thumb_at = ifd1_at + 2 + 2 * 12 + 4
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd0 + struct.pack("<I", ifd1_at) + ifd1 + thumb


def test_exif_thumbnail_removed():
    raw = exif_with_thumbnail()
    data = encoded(real_image(), "JPEG", exif=b"Exif\x00\x00" + raw)
    assert opened(data).getexif().get_ifd(-1)  # Pillow sees IFD1
    out, report = stripped(data)
    assert "Thumbnail" in report["removed"]
    assert not opened(out).getexif().get_ifd(-1)
    assert dict(opened(out).getexif()) == {TAG_ORIENTATION: 3}


def test_unreadable_exif_is_dropped_whole():
    clean, removed = strip_metadata(Metadata(exif=b"MM\x00*garbage"))
    assert clean.exif is None and removed == ["EXIF"]


def test_orientation_only_exif_reads_back_in_both_byte_orders():
    for big_endian in (False, True):
        exif = Image.Exif()
        exif.load(orientation_only_exif(8, big_endian))
        assert dict(exif) == {TAG_ORIENTATION: 8}


def test_png_text_time_and_exif_removed_colour_kept():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_itxt("Comment", "chez moi, 12 rue Exemple")
    info.add(b"tIME", bytes.fromhex("07ea06010c2238"))
    info.add(b"gAMA", (45455).to_bytes(4, "big"))
    exif = Image.Exif()
    exif[TAG_MAKE] = "Pixel"
    data = encoded(real_image(), "PNG", pnginfo=info, exif=exif, icc_profile=srgb_icc())
    out, report = stripped(data)
    image = opened(out)
    assert not image.text and "exif" not in image.info
    assert b"tIME" not in out and b"Jane Doe" not in out and b"Pixel" not in out
    assert b"gAMA" in out and image.info["icc_profile"] == opened(data).info["icc_profile"]
    assert {"Author", "Comment", "ModifyDate", "Make"} <= set(report["removed"])
    assert np.array_equal(np.asarray(image), np.asarray(opened(data)))


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_exif_and_xmp_removed_icc_kept(lossless):
    exif = Image.Exif()
    exif[TAG_MAKE] = "Pixel"
    data = encoded(
        real_image(),
        "WEBP",
        lossless=lossless,
        exif=exif,
        xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
        icc_profile=srgb_icc(),
    )
    out, report = stripped(data)
    image = opened(out)
    assert "exif" not in image.info and "xmp" not in image.info and b"secret" not in out
    assert image.info["icc_profile"] == opened(data).info["icc_profile"]
    assert {"Make", "XMP"} <= set(report["removed"])
    assert np.array_equal(np.asarray(image), np.asarray(opened(data)))


def test_comment_between_progressive_scans_and_trailer_removed():
    data = encoded(real_image(), "JPEG", progressive=True, quality=85)
    first_scan = data.index(b"\xff\xda")
    second = data.index(b"\xff\xc4", first_scan + 2)  # a DHT between scans
    comment = b"\xff\xfe" + (len(b"hidden") + 2).to_bytes(2, "big") + b"hidden"
    data = data[:second] + comment + data[second:] + b"SEFH vendor trailer"
    photo = decode(data)
    assert any("after the end" in note for note in photo.notes)
    out, _report = stripped(data)
    assert b"hidden" not in out and b"SEFH" not in out and out.endswith(b"\xff\xd9")
    assert np.array_equal(np.asarray(opened(out)), np.asarray(opened(data)))
