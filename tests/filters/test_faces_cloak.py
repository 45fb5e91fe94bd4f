"""faces-cloak: the white-box embedding moves past SFace's threshold; the face's region keeps
the strength's floor; nothing outside the faces changes; size, format and grey kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from filters import FilterSettings, Toolkit
from filters.codecs import decode
from filters.faces_cloak import FacesCloakFilter
from filters.shared.faces import find_faces
from filters.shared.sface import SAME_PERSON, SFace
from filters.shared.ssimulacra2 import ssimulacra2
from filters.shared.strengths import BUDGETS
from tests.conftest import FACES
from tests.photos import encoded

# Identity tests: SFace must match the same person's face before the cloak, in real photos.
pytestmark = pytest.mark.shared_data("faces")


@pytest.fixture(scope="module")
def cloak(toolkit: Toolkit) -> FacesCloakFilter:
    return FacesCloakFilter(toolkit, SFace.load(), steps=8)  # few steps: test size


def small_group(kind: str = "PNG") -> bytes:
    """Two people whose faces are about 80 px wide."""
    with Image.open(FACES / "groups/kit_with_rose.jpg") as image:
        return encoded(image.convert("RGB"), kind)


def test_the_cloak_moves_each_small_face_past_sfaces_threshold(cloak):
    photo = decode(small_group())
    result = cloak(photo, FilterSettings("strong", seed=1, profile="facebook"))
    report = result.report
    assert report["cloaked"] == 2 and len(report["faces"]) == 2
    assert all(similarity < SAME_PERSON for similarity in report["similarity"])
    assert result.photo.pixels.shape == photo.pixels.shape


def test_invisible_keeps_the_face_floor_and_changes_nothing_else(cloak):
    photo = decode(small_group())
    result = cloak(photo, FilterSettings("invisible", seed=1, profile="facebook"))
    floor = BUDGETS["invisible"].face.ssimulacra2_min
    assert all(score >= floor - 0.5 for score in result.report["ssimulacra2"])
    # The white-box similarity still falls: the change does something.
    assert all(similarity < 0.99 for similarity in result.report["similarity"])
    before, after = photo.pixels.astype(int), result.photo.pixels.astype(int)
    changed = np.abs(after - before).max(axis=2) > 0
    near = np.zeros(changed.shape, bool)
    for face in find_faces(photo.pixels):
        x, y, w, h = (int(v) for v in face.box)
        near[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = True
    assert changed[near].any() and not changed[~near].any()
    # Lightness only: R, G and B move together (where none of them is clipped at 0 or 255).
    difference, inside = after - before, ((before > 10) & (before < 245)).all(axis=2)
    assert np.array_equal(difference[..., 0][inside], difference[..., 1][inside])


def test_whose_faces_none_changes_nothing_and_grey_stays_grey(cloak):
    photo = decode(small_group())
    untouched = cloak(photo, FilterSettings("strong", seed=1, faces="none"))
    assert untouched.report["cloaked"] == 0
    assert np.array_equal(untouched.photo.pixels, photo.pixels)
    with Image.open(FACES / "groups/kit_with_rose.jpg") as image:
        grey = decode(encoded(image.convert("L"), "PNG"))
    result = cloak(grey, FilterSettings("subtle", seed=1, faces="bystanders"))
    assert result.report["cloaked"] == 1
    pixels = result.photo.pixels
    assert np.array_equal(pixels[..., 0], pixels[..., 2])


def test_a_chain_of_face_and_scene_filters_keeps_one_floor_for_the_whole_photo(toolkit):
    from filters.base import Chain
    from filters.pfgsm import PFGSMFilter
    from filters.shared.visibility import screen_view

    # The filters as a policy runs them: at subtle, pfgsm alone fills the floor here (70.3).
    cloak, scene = FacesCloakFilter.create(toolkit), PFGSMFilter.create(toolkit)
    # A portrait whose face fills much of it, at subtle, where pfgsm alone reaches its floor.
    with Image.open(FACES / "obama/1.jpg") as image:
        image = image.convert("RGB")
        image.thumbnail((480, 480))
        photo = decode(encoded(image, "PNG"))
    result = Chain([cloak, scene])(photo, FilterSettings("subtle", seed=1, profile="facebook"))
    assert result.report["faces-cloak"]["cloaked"] == 1
    # Measured against the photo as it came, both changes together keep the strength's floor
    # (measured against the cloaked photo, pfgsm's own gave 67.8).
    floor = BUDGETS["subtle"].perceptual.ssimulacra2_min
    whole = ssimulacra2(screen_view(photo.pixels), screen_view(result.photo.pixels))
    assert whole >= floor - 0.5
    assert result.report["pfgsm"]["ssimulacra2"] >= floor - 0.5
