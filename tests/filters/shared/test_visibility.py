"""filters/shared/visibility.py: the screen view, Butteraugli through libjxl's tool, words."""

from __future__ import annotations

import numpy as np
import pytest

from filters.shared import visibility
from filters.shared.ssimulacra2 import ssimulacra2
from filters.shared.visibility import (
    Visibility,
    butteraugli,
    describe,
    jpeg_round_trip,
    screen_view,
)
from tests.photos import PHOTOS, real_image

needs_tool = pytest.mark.skipif(
    visibility._tool() is None, reason="needs libjxl's butteraugli_main: make sysdeps"
)


def test_large_photos_are_judged_as_a_screen_shows_them():
    big = np.zeros((3000, 4000, 3), np.uint8)
    assert screen_view(big).shape == (750, 1000, 3)
    small = np.zeros((375, 500, 3), np.uint8)
    assert screen_view(small) is small


@needs_tool
def test_butteraugli_sees_compression_grow_and_nothing_in_a_copy():
    pixels = np.asarray(real_image(PHOTOS[0], size=(320, 240)))
    assert butteraugli(pixels, pixels.copy()) == 0.0
    mild, harsh = (
        butteraugli(pixels, jpeg_round_trip(pixels, 90)),
        butteraugli(pixels, jpeg_round_trip(pixels, 30)),
    )
    assert 0.3 < mild < harsh and harsh > 2


def test_a_missing_tool_gives_no_figure(monkeypatch):
    monkeypatch.setattr(visibility, "_tool", lambda: None)
    pixels = np.zeros((16, 16, 3), np.uint8)
    assert butteraugli(pixels, pixels) is None
    assert Visibility.measure(pixels, pixels, 85).butteraugli is None


def test_words_follow_the_worse_measure():
    assert describe(95.0, 0.5) == "no visible change"
    assert describe(95.0, 2.5).startswith("none at normal size")
    assert describe(82.0, 7.0) == "visible"
    assert describe(None, None) == "not measured"


@needs_tool
def test_the_yardstick_is_the_platforms_own_jpeg():
    pixels = np.asarray(real_image(PHOTOS[2], size=(320, 240)))
    changed = jpeg_round_trip(pixels, 60)
    seen = Visibility.measure(pixels, changed, 85)
    platform = jpeg_round_trip(pixels, 85)
    assert seen.platform_ssimulacra2 == pytest.approx(ssimulacra2(pixels, platform), abs=0.01)
    assert seen.platform_butteraugli == butteraugli(pixels, platform)
    assert seen.ssimulacra2 < seen.platform_ssimulacra2  # quality 60 shows more than 85
    assert seen.words == describe(seen.ssimulacra2, seen.butteraugli)
