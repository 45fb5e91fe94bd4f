"""filters/regions.py: people only where a face confirms them; sky, water, plants by colour."""

from __future__ import annotations

import numpy as np
import pytest

from filters.shared.regions import MASK_EDGE, REGIONS, _segment_people, find_regions, person_mask
from tests.photos import PHOTOS, face_photo, real_image


def test_a_face_confirms_the_person_around_it():
    pixels = face_photo("grace_hopper")
    mask, faces = person_mask(pixels)
    assert faces == 1
    assert max(mask.shape) == MASK_EDGE
    assert mask.shape[0] / mask.shape[1] == pytest.approx(pixels.shape[0] / pixels.shape[1], 0.02)
    assert 0.2 < mask.mean() < 0.95
    regions = find_regions(pixels)
    assert np.array_equal(regions.mask("person"), mask)


@pytest.mark.shared_data("faces")
def test_each_person_of_a_group_is_found():
    mask, faces = person_mask(face_photo("groups/two_people.jpg", edge=480))
    assert faces == 2
    # Both halves of the photo hold a person.
    half = mask.shape[1] // 2
    assert mask[:, :half].mean() > 0.1 and mask[:, half:].mean() > 0.1


def test_the_segmenter_alone_would_call_a_cat_a_person():
    pixels = np.asarray(real_image(PHOTOS[0]))
    assert (_segment_people(pixels) > 0.5).mean() > 0.1  # why the face check exists
    mask, faces = person_mask(pixels)
    assert faces == 0 and not mask.any()
    assert find_regions(pixels).fractions()["person"] == 0.0


def test_sky_on_top_and_water_below():
    sky, sea = (120, 170, 235), (30, 90, 140)
    pixels = np.zeros((120, 160, 3), np.uint8)
    pixels[:50], pixels[50:] = sky, sea
    regions = find_regions(pixels)
    share = regions.fractions()
    assert share["sky"] > 0.35 and share["water"] > 0.45
    assert regions.mask("sky")[: MASK_EDGE // 4].mean() > 0.9
    assert not regions.mask("sky")[-MASK_EDGE // 4 :].any()


def test_blue_at_the_bottom_is_not_sky():
    pixels = np.full((120, 160, 3), (200, 60, 40), np.uint8)
    pixels[70:] = (120, 170, 235)
    share = find_regions(pixels).fractions()
    assert share["sky"] == 0.0 and share["other"] > 0.5


def test_fractions_cover_the_photo():
    share = find_regions(np.asarray(real_image(PHOTOS[1]))).fractions()
    assert list(share) == list(REGIONS)
    assert sum(share.values()) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((8, 8, 3), np.float32)])
def test_bad_pixels_are_refused(bad):
    with pytest.raises(ValueError, match="uint8"):
        find_regions(bad)


def test_unknown_region_is_refused():
    regions = find_regions(np.full((40, 40, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="unknown region"):
        regions.mask("cloud")
