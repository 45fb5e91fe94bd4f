"""The ``faces-blur`` filter: each chosen face becomes a smooth blur."""

from __future__ import annotations

import cv2
import numpy as np

from filters.redaction import FaceRedaction, samples
from filters.shared.faces import Face

__all__ = ["FacesBlurFilter"]


class FacesBlurFilter(FaceRedaction):
    """The face's few samples, smoothly interpolated: a blur that keeps nothing finer.

    A Gaussian blur alone keeps the face's detail, only weakened, and can be largely undone;
    this keeps only the samples, then blurs them so no block edge shows.
    """

    name = "faces-blur"
    description = (
        "Finds every face and blurs it past what a face recogniser can match; the blur grows "
        "with the face, and the edge is feathered."
    )

    def redact(self, crop: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
        small, cell = samples(crop, face, rng)
        height, width = crop.shape[:2]
        big = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(big, (0, 0), cell / 2, borderType=cv2.BORDER_REPLICATE)
