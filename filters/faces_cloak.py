"""The ``faces-cloak`` filter: each chosen face changed so a face recogniser no longer knows it.

Unlike Fawkes, which poisons the training of future models, the cloak evades the recognisers
that exist now: each face's SFace embedding (OpenCV's embedder, white-box in PyTorch:
:mod:`filters.shared.sface`) is pushed away from its own, through the platform's JPEG
(straight-through gradient) and through random small errors of the alignment a recogniser
makes (shift, scale, turn), with momentum.

Each face is worked on a view where it is about :data:`VIEW_FACE` px wide (SFace sees it at
112 px), inside a feathered ellipse over the face; a pixel changes by at most the
strength's cap where texture (hair, brows, beard) hides it and a share of it on smooth skin,
and only in lightness, so no colour blotch appears. The change is upsampled to the photo,
spread over the face's own detail, and shrunk until the face's region keeps the strength's
SSIMULACRA2 floor.

On the shared face photos (20 faces, facebook profile; ``veil bench --faces``), the held-out
dlib recogniser still matched the cloaked faces to the same person's other photos at 100%
(invisible, cap 4/255, face Butteraugli 3.6), 93% (subtle, 8/255, 7.5) and 11% (strong,
16/255, 14.6, plainly visible). In a prototype, caps of 12/255 and 20/255 gave 32% and 0%.
SFace itself, attacked white-box, drops below its own threshold from 8/255 up. Adding
InsightFace's MobileFaceNet (non-commercial weights) to the attack, smoothing the gradient,
wider scale errors, pushing SFace's middle layers apart (conv_6, conv_12), a finer view
(176 px), more of the cap on skin (0.7), or random down- and upsampling of the aligned face
did not help dlib (89% at 8/255 for each, as without them).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from filters.base import Filter, Filtered, FilterSettings, Toolkit
from filters.codecs.photo import Photo
from filters.shared.budget import ScreenFit, texture_share
from filters.shared.faces import Face, face_mask, find_faces
from filters.shared.platforms import get_profile
from filters.shared.render import render_delta, shaped_gain
from filters.shared.robust import platform_jpeg
from filters.shared.sface import ALIGNED, SFace, aligned, alignment
from filters.shared.strengths import FaceBudget, budgets_for
from filters.shared.whose import chosen_faces

__all__ = ["FacesCloakFilter"]

# The face's width on the view the change is made on: a little more than SFace's 112 px.
VIEW_FACE = 128
# The region worked on reaches this many face sizes from the face's centre.
REACH = 0.9
# Random errors of alignment each step sees: turn (radians), scale and shift (aligned px).
TURN, SCALE, SHIFT = 0.05, 0.03, 1.5
STEP = 0.5  # each step's size, as a share of the per-pixel cap


@dataclass(frozen=True)
class _FaceView:
    """One face's region of the photo, and the small view of it the attack works on."""

    rows: slice
    cols: slice
    view: torch.Tensor  # (1, 3, h, w) in [0, 1]
    matrix: torch.Tensor  # (1, 2, 3) view pixels -> aligned square
    bound: torch.Tensor  # (1, 1, h, w) per-pixel cap


def _face_view(pixels: np.ndarray, face: Face, budget: FaceBudget) -> _FaceView:
    height, width = pixels.shape[:2]
    x, y, w, h = face.box
    centre, reach = (x + w / 2, y + h / 2), REACH * max(w, h)
    rows = slice(int(max(0, centre[1] - reach)), int(min(height, centre[1] + reach)))
    cols = slice(int(max(0, centre[0] - reach)), int(min(width, centre[0] + reach)))
    crop = pixels[rows, cols]
    scale = min(1.0, VIEW_FACE / face.size)
    size = (max(8, round(crop.shape[1] * scale)), max(8, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    ratio = np.array([size[0] / crop.shape[1], size[1] / crop.shape[0]], np.float32)
    origin = np.array([cols.start, rows.start], np.float32)
    landmarks = (face.landmarks - origin) * ratio
    box = ((x - origin[0]) * ratio[0], (y - origin[1]) * ratio[1], w * ratio[0], h * ratio[1])
    shape = small.shape[:2]
    mask_rows, mask_cols, weights = face_mask(shape, Face(box, face.score, landmarks), grow=1.1)
    ellipse = np.zeros(shape, np.float32)
    ellipse[mask_rows, mask_cols] = weights
    share = texture_share(small, floor=budget.skin) * ellipse
    return _FaceView(
        rows,
        cols,
        torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)[None].float() / 255,
        torch.from_numpy(alignment(landmarks))[None],
        budget.eps * torch.from_numpy(share)[None, None],
    )


def _jittered(matrix: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``matrix`` followed by a small random turn, scale and shift about the square's centre."""
    turn, scale = (torch.randn(2, generator=generator) * torch.tensor([TURN, SCALE])).tolist()
    shift = torch.randn(2, generator=generator) * SHIFT
    cos, sin = (1 + scale) * np.cos(turn), (1 + scale) * np.sin(turn)
    linear = torch.tensor([[cos, -sin], [sin, cos]], dtype=matrix.dtype)
    centre = torch.full((2,), ALIGNED / 2, dtype=matrix.dtype)
    offset = centre - linear @ centre + shift
    moved = linear @ matrix[0]  # turn and scale the whole transform, then shift it
    moved[:, 2] += offset
    return moved[None]


class FacesCloakFilter(Filter):
    """Pushes each chosen face's identity embedding away from its own, within the budget.

    Report: ``faces`` (each face found: box and score), ``cloaked`` (how many were changed),
    ``whose``; per cloaked face, ``similarity`` (SFace cosine of the written file's face to
    the original's; below 0.363 SFace calls them different people) and ``ssimulacra2`` (of
    the face's region).
    """

    name = "faces-cloak"
    description = (
        "Finds every face and changes its lightness where hair and skin texture hide it, so "
        "that face recognisers (SFace, attacked white-box) match it less to the person; how "
        "visible it may be is the strength's."
    )

    def __init__(self, toolkit: Toolkit, model: SFace, steps: int | None = None) -> None:
        self.written_pixels = toolkit.written_pixels
        self.model = model
        self.steps = steps

    @classmethod
    def create(cls, toolkit: Toolkit) -> FacesCloakFilter:
        return cls(toolkit, SFace.load())

    def _attack(
        self,
        faces: list[_FaceView],
        budget: FaceBudget,
        settings: FilterSettings,
        generator: torch.Generator,
    ) -> list[torch.Tensor]:
        """Every face's change, worked on together: the faces' views padded to one size and
        run as one batch (five faces: 3.9 s, not 4.6, on 2 cores)."""
        profile = get_profile(settings.profile)
        height = max(face.view.shape[-2] for face in faces)
        width = max(face.view.shape[-1] for face in faces)

        def padded(tensor: torch.Tensor, mode: str) -> torch.Tensor:
            room = (0, width - tensor.shape[-1], 0, height - tensor.shape[-2])
            return F.pad(tensor, room, mode=mode)

        # Padding only to the right and below: each face's alignment stays as it was.
        views = torch.cat([padded(face.view, "replicate") for face in faces])
        bound = torch.cat([padded(face.bound, "constant") for face in faces])
        matrices = torch.cat([face.matrix for face in faces])
        with torch.no_grad():
            own = self.model(aligned(views, matrices))
        delta = torch.zeros_like(views)
        momentum = torch.zeros_like(views)
        for _ in range(self.steps or budget.steps):
            delta.requires_grad_(True)
            seen = (views + delta).clamp(0, 1)
            if profile.quality_range is not None:
                # On the view itself: coding it at the photo's scale (up to 4x larger) gave
                # the same dlib figures at subtle (93%, distance 0.49) in 2.5x the time.
                seen = platform_jpeg(seen, profile.quality_range, generator)
            jittered = torch.cat([_jittered(matrix[None], generator) for matrix in matrices])
            similarity = (self.model(aligned(seen, jittered)) * own).sum()
            (grad,) = torch.autograd.grad(similarity, delta)
            with torch.no_grad():
                grad = grad.mean(dim=1, keepdim=True).expand_as(grad)  # lightness only
                size = grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
                momentum = momentum + grad / size
                move = STEP * bound * momentum.sign()
                delta = torch.maximum(torch.minimum(delta - move, bound), -bound)
        return [
            delta[index : index + 1, :, : face.view.shape[-2], : face.view.shape[-1]].detach()
            for index, face in enumerate(faces)
        ]

    @staticmethod
    def _fitted(
        pixels: np.ndarray,
        reference: np.ndarray,
        view: _FaceView,
        delta: torch.Tensor,
        budget: FaceBudget,
    ) -> tuple[np.ndarray, float]:
        """The face's region with as much of ``delta`` as keeps the strength's SSIMULACRA2
        floor there (against the chain's original ``reference``), and its score."""
        crop = pixels[view.rows, view.cols]
        view_size = tuple(view.view.shape[-2:])
        gain = shaped_gain(crop, view_size, budget.skin)
        # The face's region as a screen shows it.
        fit = ScreenFit(reference[view.rows, view.cols], crop)
        on_screen = gain if fit.base is crop else shaped_gain(fit.base, view_size, budget.skin)
        share = fit.fit(
            lambda s: render_delta(fit.base, delta * s, on_screen), budget.ssimulacra2_min, 1.0
        )
        changed = render_delta(crop, delta * share, gain)
        return changed, round(fit.score(changed), 1)

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        faces = find_faces(photo.pixels)
        chosen = chosen_faces(faces, settings.faces)
        budget = budgets_for(settings.strength).face
        seed = settings.seed_for(photo.pixels)
        generator = torch.Generator().manual_seed(seed % 2**63)
        pixels = photo.pixels.copy()
        views = [_face_view(photo.pixels, face, budget) for face in chosen]
        reference = settings.reference(photo.pixels)
        scores = []
        if views:
            for view, delta in zip(
                views, self._attack(views, budget, settings, generator), strict=True
            ):
                pixels[view.rows, view.cols], score = self._fitted(
                    photo.pixels, reference, view, delta, budget
                )
                scores.append(score)
        out = photo.with_pixels(pixels)
        report = {
            "faces": [face.to_json() for face in faces],
            "cloaked": len(chosen),
            "whose": settings.faces,
            "similarity": self._similarity(reference, out, views) if views else [],
            "ssimulacra2": scores,
        }
        return Filtered(out, report)

    def _similarity(self, before: np.ndarray, out: Photo, views: list[_FaceView]) -> list[float]:
        """Each cloaked face's SFace cosine, written file against original."""
        sent = self.written_pixels(out)
        similarities = []
        for view in views:
            pair = np.stack([before[view.rows, view.cols], sent[view.rows, view.cols]])
            images = torch.from_numpy(pair).permute(0, 3, 1, 2).float() / 255
            small = F.interpolate(images, size=tuple(view.view.shape[-2:]), mode="area")
            with torch.no_grad():
                own, now = self.model(aligned(small, view.matrix.expand(2, 2, 3)))
            similarities.append(round(float((own * now).sum()), 3))
        return similarities
