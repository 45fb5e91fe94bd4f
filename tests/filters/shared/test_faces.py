"""filters/shared/faces.py: every face, small, turned, behind dark glasses, in groups."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from filters.shared.faces import Face, face_mask, find_faces
from filters.shared.whose import chosen_faces
from tests.conftest import photo_path, shared_data

# Each photo and how many faces it shows (looked at by eye): the suite's own portraits, and
# the shared faces set's (several people, groups), which those cases need.
OWN_COUNTS = {"grace_hopper": 1, "astronaut": 1}
SHARED_COUNTS = {
    "alex_lacamoire/1.jpg": 1,
    "biden/2.jpg": 1,
    "kit_harington/3.jpg": 1,
    "obama/4.jpg": 1,
    "rose_leslie/2.jpg": 1,
    "groups/kit_with_rose.jpg": 2,
    "groups/obama_and_biden.jpg": 3,
    "groups/two_people.jpg": 2,
}
COUNTS = OWN_COUNTS | SHARED_COUNTS
needs_faces = pytest.mark.shared_data("faces")


def face_image(name: str) -> Image.Image:
    """A photo of tests/data by name, or of the shared faces set by its path there."""
    path = shared_data("faces") / name if "/" in name else photo_path(name)
    with Image.open(path) as image:
        return image.convert("RGB")


@pytest.mark.parametrize(
    "name",
    [*OWN_COUNTS, *(pytest.param(name, marks=needs_faces) for name in SHARED_COUNTS)],
)
def test_every_face_of_the_photos_is_found_once(name):
    image = face_image(name)
    faces = find_faces(np.asarray(image))
    assert len(faces) == COUNTS[name]
    for face in faces:
        x, y, w, h = face.box
        assert x >= 0 and x + w <= image.width and y >= 0 and y + h <= image.height
        # The eyes lie inside the box, the right one (the person's) on the left of the photo.
        (rx, ry), (lx, ly) = face.landmarks[:2]
        assert x <= rx < lx <= x + w and y <= min(ry, ly) <= y + h


@needs_faces
@pytest.mark.parametrize("degrees", [45, -90])
def test_turned_faces_are_found(degrees):
    image = face_image("groups/two_people.jpg").rotate(degrees, expand=True, fillcolor=(90, 90, 90))
    assert len(find_faces(np.asarray(image))) == 2


@needs_faces
def test_faces_behind_dark_glasses_are_found():
    pixels = np.asarray(face_image("groups/obama_and_biden.jpg")).copy()
    for face in find_faces(pixels):
        radius = int(face.box[2] * 0.16)
        for x, y in face.landmarks[:2]:
            cv2.ellipse(pixels, (int(x), int(y)), (radius, radius), 0, 0, 360, (15, 15, 20), -1)
    assert len(find_faces(pixels)) == 3


@needs_faces
def test_small_faces_in_a_large_photo_are_found():
    # The two people, shrunk until their faces are about 24 px wide, in a 4000 x 3000 photo.
    image = face_image("groups/two_people.jpg")
    small = image.resize((image.width * 24 // 148, image.height * 24 // 148), Image.LANCZOS)
    canvas = Image.new("RGB", (4000, 3000), (90, 110, 80))
    canvas.paste(small, (1700, 1300))
    faces = find_faces(np.asarray(canvas))
    assert len(faces) == 2
    assert all(15 < face.box[2] < 40 for face in faces)


def test_a_photo_with_no_face_has_none():
    for name in ("chelsea", "coffee"):
        assert find_faces(np.asarray(face_image(name))) == [], name
    pixels = np.asarray(face_image("coffee"))
    with pytest.raises(ValueError, match="uint8"):
        find_faces(pixels.astype(np.float32))


def face_at(x: float, y: float, size: float) -> Face:
    return Face((x, y, size, size), 0.9, np.zeros((5, 2), np.float32))


def test_whose_faces_bystanders_leaves_the_largest_alone():
    faces = [face_at(0, 0, 40), face_at(100, 0, 90), face_at(200, 0, 30)]
    assert chosen_faces(faces, "all") == faces
    assert chosen_faces(faces, "bystanders") == [faces[0], faces[2]]
    assert chosen_faces(faces, "none") == []
    assert chosen_faces(faces[:1], "bystanders") == []  # a portrait's subject keeps their face
    with pytest.raises(ValueError, match="whose faces"):
        chosen_faces(faces, "everyone")


def test_the_face_mask_is_whole_on_the_face_and_fades_out():
    rows, cols, weights = face_mask((400, 400), face_at(150, 150, 100))
    centre = weights[200 - rows.start, 200 - cols.start]
    assert centre == 1.0
    assert weights[0, 0] == 0.0 and weights.min() == 0.0
    # Past the face's box, the weight falls smoothly: no step larger than a few percent.
    across = weights[200 - rows.start]
    assert np.abs(np.diff(across)).max() < 0.15
    # Near the image edge, the mask is cut to the image.
    rows, cols, weights = face_mask((120, 120), face_at(0, 0, 100))
    assert rows.start == 0 and cols.start == 0 and weights.shape == (rows.stop, cols.stop)
