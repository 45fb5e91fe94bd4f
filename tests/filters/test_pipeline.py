"""filters/pipeline.py and filters/measure.py: protecting, then measuring, and the errors."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pytest
from PIL import Image, ImageSequence

import filters.codecs.encoder
import filters.pipeline
from filters import (
    Chain,
    Filter,
    Filtered,
    FilterSettings,
    Protected,
    ProtectionError,
    ProtectionRecord,
    Protector,
)
from filters.codecs import decode
from tests.conftest import IFD_GPS, TAG_ORIENTATION, jpeg_with_private_metadata, photo_path
from tests.photos import PHOTOS, encoded, opened, real_image


@pytest.fixture(scope="module")
def private_photo() -> bytes:
    # grace_hopper: pfgsm at its defaults changes the surrogate's label on it (measured; on
    # chelsea and coffee it does not at "invisible", and the tests below ask that it does).
    return jpeg_with_private_metadata(photo_path(PHOTOS[1]), size=(320, 240), orientation=6)


@pytest.fixture(scope="module")
def protected(protector, private_photo) -> Protected:
    return protector.protect(private_photo, ["metadata", "pfgsm"], "invisible", seed=1)


@pytest.fixture(scope="module")
def record(protector, protected) -> ProtectionRecord:
    return protector.measure(protected)


def test_output_keeps_format_size_orientation_and_drops_metadata(protected, record, private_photo):
    image = opened(protected.data)
    assert (protected.format, record.width, record.height) == ("JPEG", 320, 240)
    assert image.format == "JPEG" and image.size == (320, 240)
    assert image.getexif()[TAG_ORIENTATION] == 6 and not image.getexif().get_ifd(IFD_GPS)
    assert image.info["icc_profile"] == opened(private_photo).info["icc_profile"]
    assert {"GPS", "BodySerialNumber", "Make", "Model", "XMP", "IPTC", "Comment"} <= set(
        record.metadata_removed
    )


def test_protecting_gives_the_file_and_the_filters_reports(protected, private_photo):
    assert protected.source == private_photo and protected.filters == ("metadata", "pfgsm")
    assert set(protected.report) == {"metadata", "pfgsm"}
    # What a reader decodes from the file, known without decoding it again.
    assert np.array_equal(protected.sent.pixels, decode(protected.data).pixels)
    assert np.array_equal(protected.original.pixels, decode(private_photo).pixels)


def test_record_sizes_hashes_and_time(record, protected, private_photo):
    assert record.size_before == len(private_photo)
    assert record.size_after == len(protected.data)
    assert record.sha256_before == hashlib.sha256(private_photo).hexdigest()
    assert record.sha256_after == hashlib.sha256(protected.data).hexdigest()
    assert record.elapsed_ms > 0


def test_labels_are_the_surrogate_top1_before_and_after(
    record, protected, private_photo, surrogate
):
    before = surrogate.predict(decode(private_photo).pixels)
    after = surrogate.predict(decode(protected.data).pixels)
    assert (record.label_before, record.label_after) == (before.label, after.label)
    assert record.label_after != record.label_before
    assert 0 < record.confidence_after <= 1 and 0 < record.confidence_before <= 1


def test_quality_figures_are_sane(record):
    assert 0.8 < record.ssim < 1
    assert 30 < record.psnr < 60


def test_thumbnails_decode_small_and_upright(record):
    for thumb in (record.thumb_before, record.thumb_after):
        image = Image.open(io.BytesIO(thumb))
        assert image.format == "JPEG" and image.size == (192, 256)


def test_record_values_are_json_without_the_bytes(record, protected):
    values = json.loads(json.dumps(record.values()))
    assert {"thumb_before", "thumb_after"}.isdisjoint(values)
    assert values["label_after"] == record.label_after != values["label_before"]
    assert protected.report["pfgsm"]["fooled"] is True


def test_metadata_only_keeps_every_pixel(protector, private_photo):
    result = protector.protect(private_photo, ["metadata"])
    record = protector.measure(result)
    assert np.array_equal(np.asarray(opened(result.data)), np.asarray(opened(private_photo)))
    assert record.ssim == 1.0 and record.psnr is None
    assert record.label_after == record.label_before
    assert record.size_after < record.size_before


def test_no_filters_returns_the_file_unchanged(protector, private_photo):
    result = protector.protect(private_photo, [])
    assert result.data == private_photo and result.filters == () and result.report == {}


@pytest.mark.parametrize("exact_size", [False, True])
def test_no_file_is_decoded_twice(protector, private_photo, monkeypatch, exact_size):
    decoded: list[str] = []
    for module in (filters.pipeline, filters.codecs.encoder):
        real = module.decode

        def counted(data: bytes, real=real) -> object:
            decoded.append(hashlib.sha256(data).hexdigest())
            return real(data)

        monkeypatch.setattr(module, "decode", counted)
    result = protector.protect(private_photo, ["metadata", "pfgsm"], seed=1, exact_size=exact_size)
    # The upload first; then each file the filter writes to check it (one per refit), once.
    assert decoded[0] == hashlib.sha256(private_photo).hexdigest()
    assert len(decoded) == len(set(decoded)) >= 2
    assert hashlib.sha256(result.data).hexdigest() not in decoded  # its pixels are known
    assert np.array_equal(result.sent.pixels, decode(result.data).pixels)


def test_default_seed_is_deterministic(protector):
    data = encoded(real_image(PHOTOS[1]), "WEBP", quality=85)
    first = protector.protect(data, ["pfgsm"], "strong")
    assert protector.protect(data, ["pfgsm"], "strong").data == first.data
    record = protector.measure(first)
    assert first.format == "WEBP" and record.label_after != record.label_before


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
    result = Chain([Mark()]).apply(photo, FilterSettings("subtle"))
    assert result.report == {"mark": {"strength": "subtle"}} and result.photo is photo
    assert FilterSettings("high").strength == "strong"  # an old name, mapped


def test_exact_size_output_has_the_original_length(protector, private_photo):
    result = protector.protect(private_photo, ["metadata", "pfgsm"], seed=1, exact_size=True)
    record = protector.measure(result)
    assert len(result.data) == len(private_photo) == record.size_after
    image = opened(result.data)
    assert image.size == (320, 240) and image.getexif()[TAG_ORIENTATION] == 6
    assert record.label_after != record.label_before  # measured on the padded file
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
    assert result.report["frames"]["count"] == 2
    assert "target" in result.report["frames"]["reports"][0]["pfgsm"]
    before = [
        np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(opened(data))
    ]
    after = [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(image)]
    assert all(np.abs(a - b).mean() > 0.5 for a, b in zip(after, before, strict=True))


def test_a_busy_machine_does_not_stall_protection(protector, private_photo):
    """Two threads fighting two busy processes took 6.5 times as long; one thread takes
    about twice (12 MP: 14.0 s, 3.7 s, against 2.0 s idle). The bound here is generous."""
    import multiprocessing

    from tests.filters.shared.test_cpu import CORES, burn

    def timed() -> float:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            protector.protect(private_photo, ["metadata", "pfgsm"], seed=1)
            times.append(time.perf_counter() - started)
        return min(times)

    idle = timed()
    hogs = [multiprocessing.Process(target=burn, args=(4 + 6 * idle,)) for _ in range(CORES)]
    for hog in hogs:
        hog.start()
    try:
        time.sleep(1.5)  # the sampler sees them
        busy = timed()
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join()
    assert busy < 4 * idle, (busy, idle)


@pytest.mark.parametrize("scene", ["colorfool", "edgefool"])
def test_a_chain_of_scene_filters_keeps_one_floor_for_the_whole_photo(protector, scene):
    from filters.shared.ssimulacra2 import ssimulacra2
    from filters.shared.strengths import BUDGETS
    from filters.shared.visibility import screen_view
    from tests.photos import encoded, real_image

    data = encoded(real_image(size=(500, 375)), "PNG")
    result = protector.protect(data, ["pfgsm", scene], "subtle", seed=1, profile="facebook")
    whole = ssimulacra2(screen_view(result.original.pixels), screen_view(result.sent.pixels))
    # Each measured against its own input, the two changes together gave 60.8 (colorfool)
    # and 63.5 (edgefool) on the ImageNet hen this test first used.
    assert whole >= BUDGETS["subtle"].perceptual.ssimulacra2_min - 0.5


def test_metadata_alone_never_loads_nor_runs_the_classifier(private_jpeg: bytes) -> None:
    # Not a slow test: loading any model here raises (tests/conftest.py).
    protector = Protector()
    protector.load(["metadata"])
    protected = protector.protect(private_jpeg, ["metadata"])
    record = protector.measure(protected)
    assert protector._surrogate is None
    assert record.label_before is None and record.label_after is None
    assert "GPS" in record.metadata_removed and record.ssimulacra2 > 90
