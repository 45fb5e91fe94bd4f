"""The ``faces-pixelate`` filter: each chosen face becomes a few large blocks."""

from __future__ import annotations

import cv2
import numpy as np

from filters.redaction import FaceRedaction, samples
from filters.shared.faces import Face

__all__ = ["FacesPixelateFilter"]


class FacesPixelateFilter(FaceRedaction):
    """Blocks about a sixth of the face wide, with noise, feathered into the photo."""

    name = "faces-pixelate"
    description = (
        "Finds every face and turns it into a few large blocks that no face recogniser can "
        "match; the blocks grow with the face, and the edge is feathered."
    )

    def redact(self, crop: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
        small, cell = samples(crop, face, rng)
        big = cv2.resize(small, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)
        return big[: crop.shape[0], : crop.shape[1]]
