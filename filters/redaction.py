"""Redacting faces: each chosen face replaced by a version no recogniser can match.

A redaction keeps only a few samples across the face (:data:`CELLS`), so a large face loses
as much as a small one: the distortion grows with the face's resolution. Noise on those
samples leaves nothing exact to estimate the face back from. The result is feathered into
the photo along an ellipse, so it reads as deliberate, not as a broken file. How the
samples are shown (blocks, a blur) is each filter's; finding and choosing the faces, and
feathering, are here.
"""

from __future__ import annotations

from abc import abstractmethod

import cv2
import numpy as np

from filters.base import Filter, Filtered, FilterSettings
from filters.codecs.photo import Photo
from filters.shared.faces import Face, face_mask, find_faces
from filters.shared.whose import chosen_faces

__all__ = ["CELLS", "NOISE", "FaceRedaction", "samples"]

# Samples kept across a face's box, whatever its size: at 6 a face is a few blocks of skin
# and hair, which neither YuNet nor SFace matches to the person.
CELLS = 6
# The largest random change of a sample, in levels (the same on R, G and B).
NOISE = 6


def samples(crop: np.ndarray, face: Face, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The crop reduced to :data:`CELLS` samples across the face, with noise, and the number
    of photo pixels each sample stands for.

    Args:
        crop: (h, w, 3) uint8, the face's region.
    """
    cell = max(2, round(face.size / CELLS))
    height, width = crop.shape[:2]
    size = (max(1, -(-width // cell)), max(1, -(-height // cell)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA).astype(np.int16)
    small += rng.integers(-NOISE, NOISE + 1, size=small.shape[:2], dtype=np.int16)[..., None]
    return np.clip(small, 0, 255).astype(np.uint8), cell


class FaceRedaction(Filter):
    """A filter that redacts the faces the settings choose; :meth:`redact` says how.

    Report: ``faces`` (each face found: box x, y, w, h and score), ``redacted`` (how many
    were changed), ``whose`` (the settings' choice).
    """

    meant_to_be_seen = True

    @abstractmethod
    def redact(self, crop: np.ndarray, face: Face, rng: np.random.Generator) -> np.ndarray:
        """The redacted (h, w, 3) uint8 crop around one face."""

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        faces = find_faces(photo.pixels)
        chosen = chosen_faces(faces, settings.faces)
        seed = settings.seed_for(photo.pixels)
        rng = np.random.default_rng(seed)
        pixels = photo.pixels.copy()
        for face in chosen:
            rows, cols, weights = face_mask(pixels.shape[:2], face)
            crop = pixels[rows, cols]
            redacted = self.redact(crop, face, rng).astype(np.float32)
            if photo.is_grey:  # a grey photo stays grey
                redacted[:] = redacted.mean(axis=2, keepdims=True)
            share = weights[..., None]
            pixels[rows, cols] = np.rint(share * redacted + (1 - share) * crop).astype(np.uint8)
        report = {
            "faces": [face.to_json() for face in faces],
            "redacted": len(chosen),
            "whose": settings.faces,
        }
        return Filtered(photo.with_pixels(pixels), report)
