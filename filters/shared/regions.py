"""Where a photo shows people, sky, water and vegetation: the regions ColorFool treats apart.

People come from the offline MediaPipe selfie segmenter, which also lights up on animals
(a cat scores 0.91), so its mask counts only around the faces that
:mod:`filters.shared.faces` finds. No offline sky/water/vegetation segmenter exists
(REFERENCE.md section 1): those regions come from colour in CIE Lab and position, e.g. sky
is smooth, blue or bright, and touches the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from filters.shared.faces import find_faces

__all__ = ["MASK_EDGE", "REGIONS", "Regions", "find_regions", "person_mask"]

REGIONS = ("person", "sky", "water", "vegetation", "other")
MASK_EDGE = 256  # masks are computed with the photo's long edge at this many pixels
PERSON_SCORE = 0.5
# Sky is at most this far down the photo; water starts below this fraction of the height.
SKY_BOTTOM, WATER_TOP = 0.7, 0.3
SMOOTH = 6.0  # mean |gradient of L| (Lab units per pixel at MASK_EDGE) of sky and water
MIN_AREA = 0.01  # regions smaller than this fraction of the photo are noise


@dataclass(frozen=True)
class Regions:
    """A label per pixel at mask resolution: an index into :data:`REGIONS`.

    Shape:
        ``labels``: (h, w) uint8 with the photo's aspect ratio, long edge :data:`MASK_EDGE`.
    """

    labels: np.ndarray
    faces: int

    def mask(self, name: str) -> np.ndarray:
        """(h, w) bool mask of one region."""
        if name not in REGIONS:
            raise ValueError(f"unknown region {name!r}; choose one of {', '.join(REGIONS)}")
        return self.labels == REGIONS.index(name)

    def fractions(self) -> dict[str, float]:
        """Share of the photo each region covers, rounded for reports."""
        counts = np.bincount(self.labels.ravel(), minlength=len(REGIONS))
        total = self.labels.size
        return {name: round(float(counts[i]) / total, 3) for i, name in enumerate(REGIONS)}


def _resized(pixels: np.ndarray, edge: int) -> np.ndarray:
    """The photo with its long edge at ``edge`` pixels."""
    height, width = pixels.shape[:2]
    scale = edge / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _faces(pixels: np.ndarray) -> np.ndarray:
    """(N, 4) face boxes x, y, w, h as fractions of the photo's width and height."""
    height, width = pixels.shape[:2]
    boxes = [face.box for face in find_faces(pixels)]
    return np.array(boxes, np.float32).reshape(-1, 4) / np.array([width, height, width, height])


def _segment_people(pixels: np.ndarray) -> np.ndarray:
    """(h, w) float person probability from MediaPipe's selfie segmenter."""
    from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation

    # A fresh graph per photo (~12 ms): no state carried between photos or threads.
    with SelfieSegmentation(model_selection=0) as segmenter:
        result = segmenter.process(np.ascontiguousarray(pixels))
    return np.asarray(result.segmentation_mask, np.float32)


def person_mask(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """People at mask resolution: segmenter pixels connected to a detected face.

    Args:
        pixels: (H, W, 3) uint8 RGB.

    Returns:
        ((h, w) bool mask with the long edge at :data:`MASK_EDGE`, number of faces).
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape}")
    small = _resized(pixels, MASK_EDGE)
    height, width = small.shape[:2]
    boxes = _faces(pixels)
    mask = np.zeros((height, width), bool)
    if not len(boxes):
        return mask, 0
    people = _segment_people(small) > PERSON_SCORE
    _, components = cv2.connectedComponents(people.astype(np.uint8), connectivity=8)
    for x, y, w, h in boxes * np.array([width, height, width, height]):
        # The face itself, grown by a quarter each side: hair and ears stay people too.
        left, top = int(max(0, x - w / 4)), int(max(0, y - h / 4))
        right, bottom = int(min(width, x + w * 1.25 + 1)), int(min(height, y + h * 1.25 + 1))
        mask[top:bottom, left:right] = True
        touched = np.unique(components[top:bottom, left:right])
        mask |= np.isin(components, touched[touched > 0])
    return mask, len(boxes)


def _touching_top(candidates: np.ndarray, min_pixels: int) -> np.ndarray:
    """The parts of ``candidates`` connected to the top row, each large enough."""
    count, components, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8))
    keep = [
        i
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_TOP] == 0 and stats[i, cv2.CC_STAT_AREA] >= min_pixels
    ]
    return np.isin(components, keep)


def _large(candidates: np.ndarray, min_pixels: int) -> np.ndarray:
    """The connected parts of ``candidates`` of at least ``min_pixels``."""
    count, components, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8))
    keep = [i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_pixels]
    return np.isin(components, keep)


def find_regions(pixels: np.ndarray) -> Regions:
    """Label each pixel person, sky, water, vegetation or other (in that priority).

    Args:
        pixels: (H, W, 3) uint8 RGB.

    Returns:
        :class:`Regions` at mask resolution.

    Raises:
        ValueError: ``pixels`` is not (H, W, 3) uint8.

    >>> sky = np.zeros((40, 60, 3), np.uint8); sky[:20] = (110, 160, 230); sky[20:] = (60, 120, 40)
    >>> find_regions(sky).fractions()
    {'person': 0.0, 'sky': 0.497, 'water': 0.0, 'vegetation': 0.497, 'other': 0.006}
    """
    people, faces = person_mask(pixels)
    small = _resized(pixels, MASK_EDGE)
    lab = cv2.cvtColor(small.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    light, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    height, width = light.shape
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    grad = np.abs(cv2.Sobel(light, cv2.CV_32F, 1, 0, ksize=3)) / 8
    grad += np.abs(cv2.Sobel(light, cv2.CV_32F, 0, 1, ksize=3)) / 8
    smooth = cv2.blur(grad, (5, 5)) < SMOOTH
    min_pixels = int(MIN_AREA * height * width)
    free = ~people
    # Blue sky, or bright overcast sky, high in the photo.
    blue = (b < -5) & (a < 10) & (light > 35)
    overcast = (light > 75) & (np.hypot(a, b) < 10)
    sky = _touching_top(free & smooth & (rows < SKY_BOTTOM) & (blue | overcast), min_pixels)
    # Blue-green, smooth water lower down.
    water = free & ~sky & smooth & (rows > WATER_TOP) & (b < -3) & (a < 5) & (light > 15)
    water = _large(water, min_pixels)
    # Green to yellow-green foliage anywhere.
    vegetation = free & ~sky & ~water & (a < -6) & (b > 4) & (light > 10) & (light < 92)
    vegetation = _large(vegetation, min_pixels)
    labels = np.full((height, width), REGIONS.index("other"), np.uint8)
    for name, mask in (("vegetation", vegetation), ("water", water), ("sky", sky)):
        labels[mask] = REGIONS.index(name)
    labels[people] = REGIONS.index("person")
    return Regions(labels, faces)
