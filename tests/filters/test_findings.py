"""filters/findings.py: the face filters' boxes as the audit page draws them, upright."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from filters import Protected
from filters.codecs.exif import orientation_only_exif
from filters.codecs.photo import Metadata, Photo
from filters.codecs.thumbnail import thumbnail
from filters.findings import FaceFindings, face_findings, upright_box

WIDTH, HEIGHT = 200, 120
BOX = (30, 20, 60, 40)  # x, y, w, h as stored


def stored_photo(orientation: int) -> Photo:
    """A black photo with one white box, stored as a camera wrote it, turned by its EXIF."""
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    x, y, w, h = BOX
    pixels[y : y + h, x : x + w] = 255
    return Photo(pixels, "JPEG", "RGB", metadata=Metadata(exif=orientation_only_exif(orientation)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_boxes_land_where_the_thumbnail_shows_the_face(orientation: int) -> None:
    shown = np.asarray(Image.open(io.BytesIO(thumbnail(stored_photo(orientation)))).convert("L"))
    rows, cols = np.nonzero(shown > 128)
    down, across = shown.shape
    seen = (
        cols.min() / across,
        rows.min() / down,
        (cols.max() + 1 - cols.min()) / across,
        (rows.max() + 1 - rows.min()) / down,
    )
    assert upright_box(BOX, WIDTH, HEIGHT, orientation) == pytest.approx(seen, abs=0.02)


def test_boxes_are_clipped_to_the_photo() -> None:
    assert upright_box((-10, -20, 30, 40), 100, 100, 1) == (0.0, 0.0, 0.2, 0.2)
    assert upright_box((90, 80, 30, 40), 100, 100, 3) == (0.0, 0.0, 0.1, 0.2)


def protected(filters: tuple[str, ...], report: dict[str, object]) -> Protected:
    photo = stored_photo(1)
    return Protected(b"", b"", photo, photo, filters, report, "none", 1.0)


def test_the_first_face_filter_tells_what_was_found() -> None:
    report = {
        "metadata": {"removed": ["GPS"]},
        "faces-cloak": {"faces": [{"box": [20, 12, 40, 24], "score": 0.9}] * 2, "cloaked": 1},
        "faces-blur": {"faces": [], "redacted": 0},  # the cloak got there first
    }
    found = face_findings(protected(("metadata", "faces-cloak", "faces-blur"), report))
    assert found == FaceFindings(["0.1,0.1,0.2,0.2", "0.1,0.1,0.2,0.2"], 1)
    redacted = {"faces-pixelate": {"faces": [{"box": [0, 0, 200, 120], "score": 1}], "redacted": 1}}
    assert face_findings(protected(("faces-pixelate",), redacted)) == FaceFindings(["0,0,1,1"], 1)


def test_no_face_filter_no_findings() -> None:
    assert face_findings(protected(("metadata", "pfgsm"), {"metadata": {}, "pfgsm": {}})) is None
