"""filters/pipeline.py: Protector end to end, its report, and its errors."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageSequence

from filters import Chain, Filter, Filtered, FilterSettings, ProtectionError, Protector
from filters.codec import decode
from tests.conftest import IFD_GPS, TAG_ORIENTATION, imagenet_photo, jpeg_with_private_metadata
from tests.filters.conftest import PHOTOS, encoded, opened, real_image


@pytest.fixture(scope="module")
def private_photo() -> bytes:
    return jpeg_with_private_metadata(imagenet_photo(PHOTOS[0]), size=(320, 240), orientation=6)


@pytest.fixture(scope="module")
def protected(protector, private_photo):
    return protector.protect(private_photo, ["metadata", "pfgsm"], "medium", seed=1)


def test_output_keeps_format_size_orientation_and_drops_metadata(protected, private_photo):
    image = opened(protected.data)
    assert (protected.format, protected.width, protected.height) == ("JPEG", 320, 240)
    assert image.format == "JPEG" and image.size == (320, 240)
    assert image.getexif()[TAG_ORIENTATION] == 6 and not image.getexif().get_ifd(IFD_GPS)
    assert image.info["icc_profile"] == opened(private_photo).info["icc_profile"]
    assert {"GPS", "BodySerialNumber", "Make", "Model", "XMP", "IPTC", "Comment"} <= set(
        protected.metadata_removed
    )


def test_report_sizes_hashes_and_filters(protected, private_photo):
    assert protected.size_before == len(private_photo)
    assert protected.size_after == len(protected.data)
    assert protected.sha256_before == hashlib.sha256(private_photo).hexdigest()
    assert protected.sha256_after == hashlib.sha256(protected.data).hexdigest()
    assert protected.filters_applied == ["metadata", "pfgsm"]
    assert set(protected.details) == {"metadata", "pfgsm"}
    assert protected.elapsed_ms > 0


def test_labels_are_the_surrogate_top1_before_and_after(protected, private_photo, surrogate):
    before = surrogate.predict(decode(private_photo).pixels)
    after = surrogate.predict(decode(protected.data).pixels)
    assert (protected.label_before, protected.label_after) == (before.label, after.label)
    assert protected.label_after != protected.label_before
    assert 0 < protected.confidence_after <= 1 and 0 < protected.confidence_before <= 1


def test_quality_figures_are_sane(protected):
    assert 0.8 < protected.ssim < 1
    assert 30 < protected.psnr < 60


def test_thumbnails_decode_small_and_upright(protected):
    for thumb in (protected.thumb_before, protected.thumb_after):
        image = Image.open(io.BytesIO(thumb))
        assert image.format == "JPEG" and image.size == (192, 256)


def test_to_dict_is_json_without_the_bytes(protected):
    values = json.loads(json.dumps(protected.to_dict()))
    assert {"data", "thumb_before", "thumb_after"}.isdisjoint(values)
    assert values["label_after"] == protected.label_after
    assert values["details"]["pfgsm"]["fooled"] is True
    assert values["label_after"] != values["label_before"]


def test_metadata_only_keeps_every_pixel(protector, private_photo):
    result = protector.protect(private_photo, ["metadata"])
    assert np.array_equal(np.asarray(opened(result.data)), np.asarray(opened(private_photo)))
    assert result.ssim == 1.0 and result.psnr is None
    assert result.label_after == result.label_before
    assert result.size_after < result.size_before


def test_no_filters_returns_the_file_unchanged(protector, private_photo):
    result = protector.protect(private_photo, [])
    assert result.data == private_photo and result.filters_applied == []


def test_default_seed_is_deterministic(protector):
    data = encoded(real_image(PHOTOS[1]), "WEBP", quality=85)
    first = protector.protect(data, ["pfgsm"])
    assert protector.protect(data, ["pfgsm"]).data == first.data
    assert first.format == "WEBP" and first.label_after != first.label_before


@pytest.mark.parametrize(
    ("data", "filters", "strength", "message"),
    [
        (b"\xff\xd8\xff\xe0garbage", ["metadata"], "medium", "JPEG"),
        (b"not an image at all", ["metadata"], "medium", "not an image"),
        (None, ["nope"], "medium", "unknown filter 'nope'"),
        (None, ["metadata"], "extreme", "unknown strength 'extreme'"),
    ],
)
def test_bad_requests_raise_protection_error(
    protector, private_photo, data, filters, strength, message
):
    with pytest.raises(ProtectionError, match=message):
        protector.protect(private_photo if data is None else data, filters, strength)


def test_truncated_jpeg_raises_protection_error(protector, private_photo):
    with pytest.raises(ProtectionError):
        protector.protect(private_photo[: len(private_photo) * 2 // 3], ["metadata", "pfgsm"])


def test_data_must_be_bytes(protector):
    with pytest.raises(ProtectionError, match="bytes"):
        protector.protect("photo.jpg", ["metadata"])  # type: ignore[arg-type]


def test_load_rejects_unknown_names():
    with pytest.raises(ProtectionError, match="unknown filter"):
        Protector().load(["metadata", "blur"])


class Broken(Filter):
    """A filter with a bug, to check how a chain reports it."""

    name = "broken"
    description = "Always fails."

    def apply(self, photo, settings):
        raise ZeroDivisionError("division by zero in broken")


def test_a_failing_filter_becomes_a_protection_error_with_its_cause():
    photo = decode(encoded(real_image(), "PNG"))
    with pytest.raises(ProtectionError, match="the broken filter failed") as caught:
        Chain([Broken()]).apply(photo, FilterSettings())
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_chain_runs_filters_in_order():
    class Mark(Filter):
        name = "mark"
        description = "Records the order."

        def apply(self, photo, settings):
            return Filtered(photo, {"strength": settings.strength})

    photo = decode(encoded(real_image(), "PNG"))
    result = Chain([Mark()]).apply(photo, FilterSettings("high"))
    assert result.report == {"mark": {"strength": "high"}} and result.photo is photo


def test_exact_size_output_has_the_original_length(protector, private_photo):
    result = protector.protect(private_photo, ["metadata", "pfgsm"], seed=1, exact_size=True)
    assert len(result.data) == len(private_photo) == result.size_after
    image = opened(result.data)
    assert image.size == (320, 240) and image.getexif()[TAG_ORIENTATION] == 6
    assert result.label_after != result.label_before  # measured on the padded file
    assert not image.getexif().get_ifd(IFD_GPS)


def test_exact_size_metadata_only_keeps_every_pixel(protector, private_photo):
    result = protector.protect(private_photo, ["metadata"], exact_size=True)
    assert len(result.data) == len(private_photo)
    assert np.array_equal(np.asarray(opened(result.data)), np.asarray(opened(private_photo)))


def test_exact_size_that_cannot_fit_is_a_protection_error(protector):
    flat = encoded(Image.new("RGB", (64, 64), (40, 80, 120)), "PNG")
    with pytest.raises(ProtectionError, match="does not fit"):
        protector.protect(flat, ["pfgsm"], exact_size=True)


def test_animated_gif_is_protected_frame_by_frame(protector):
    first = real_image(PHOTOS[2], (96, 72))
    frames = [first, first.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = encoded(
        frames[0], "GIF", save_all=True, append_images=frames[1:], duration=[120, 240], loop=0
    )
    result = protector.protect(data, ["metadata", "pfgsm"], seed=3)
    image = opened(result.data)
    assert image.format == "GIF" and image.n_frames == 2 and image.info["loop"] == 0
    assert result.details["frames"]["count"] == 2
    assert "target" in result.details["frames"]["reports"][0]["pfgsm"]
    before = [
        np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(opened(data))
    ]
    after = [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(image)]
    assert all(np.abs(a - b).mean() > 0.5 for a, b in zip(after, before, strict=True))
