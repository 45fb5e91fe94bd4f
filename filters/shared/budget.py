"""Spending a strength's budget: where a change may go, and how large it may grow.

A :class:`~filters.shared.strengths.PerceptualBudget` caps each pixel's change where texture
hides it (:func:`texture_mask`: flat areas and strong edges keep almost nothing) and keeps
SSIMULACRA2 above a floor. Attacks keep the floor on their small view, measured every
other step (:class:`ViewBound`, cheap), then fit the change's size to it on the photo as a
screen shows it (:class:`ScreenFit`), and check the file as written.

100 - SSIMULACRA2 grows about as the change's size to the power 1.2 (measured on pfgsm's
changes: 3.6, 6.9, 12.8, 19.7, 29 points for 0.1, 0.2, 0.35, 0.5, 0.7 of one change), so one
measurement tells how far to scale.
"""

from __future__ import annotations

from collections.abc import Callable

import kornia
import numpy as np
import torch
import torch.nn.functional as F

from filters.shared.ssimulacra2 import Ssimulacra2
from filters.shared.visibility import screen_view

__all__ = ["GROWTH", "ScreenFit", "ViewBound", "room_for", "share_within_floor", "texture_mask"]

# 100 - SSIMULACRA2 ~ size ** GROWTH.
GROWTH = 1.2
# Where a pixel sits within this (Sobel magnitude of grey in [0, 1]) of a strong edge, the
# change would show as a halo along it: it keeps EDGE_KEEP of its share.
STRONG_EDGE = 0.25
EDGE_KEEP = 0.2


def room_for(score: float, floor: float) -> float:
    """The factor that brings a change scoring ``score`` to the ``floor`` (above 1: room).

    >>> round(room_for(90.0, 80.0), 3)
    1.782
    """
    return ((100.0 - floor) / max(100.0 - score, 1e-6)) ** (1 / GROWTH)


def texture_mask(
    images: torch.Tensor, *, window: int = 7, floor: float = 0.1, reference: float = 0.08
) -> torch.Tensor:
    """Where a change hides: local spread of luminance, scaled to [floor, 1], less at edges.

    SSIM-like measures and the eye compare an added change with the contrast already there,
    so the share grows with the local standard deviation of grey levels; ``reference`` is the
    spread that gets the whole budget, ``floor`` what flat areas keep. Around strong edges the
    share falls to :data:`EDGE_KEEP` of it: a change there draws a halo along the edge.

    Args:
        images: (B, 3, H, W) in [0, 1].

    Returns:
        (B, 1, H, W) weights in [0, 1].

    >>> flat = texture_mask(torch.full((1, 3, 16, 16), 0.5))
    >>> round(float(flat.max()), 3)
    0.1
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    grey = kornia.color.rgb_to_grayscale(images)
    mean = kornia.filters.box_blur(grey, (window, window), border_type="reflect")
    square = kornia.filters.box_blur(grey * grey, (window, window), border_type="reflect")
    spread = (square - mean * mean).clamp_min(0).sqrt()
    # Smooth the edges of the mask: a hard border between weights would itself be seen.
    spread = kornia.filters.gaussian_blur2d(spread, (5, 5), (1.5, 1.5), border_type="reflect")
    share = (spread / reference).clamp(floor, 1.0)
    edges = (kornia.filters.sobel(grey) > STRONG_EDGE).to(images.dtype)
    edges = F.max_pool2d(edges, 5, stride=1, padding=2)
    edges = kornia.filters.gaussian_blur2d(edges, (5, 5), (1.0, 1.0), border_type="reflect")
    return share * (1 - (1 - EDGE_KEEP) * edges)


class ViewBound:
    """Keeps a change on an attack's view under an SSIMULACRA2 floor.

    Measured every ``every`` calls: a step changes the change little, the factor of the last
    measurement still holds, and the final fit on the photo corrects what is left.

    Args:
        view: (1, 3, h, w) clean view in [0, 1].
        floor: the SSIMULACRA2 the changed view keeps at least.
    """

    def __init__(self, view: torch.Tensor, floor: float, every: int = 2) -> None:
        self.view = view.detach()
        self.floor = floor
        self.every = every
        self._score = Ssimulacra2(self.view)
        self._calls = 0
        self._room = 1.0

    def __call__(self, delta: torch.Tensor) -> float:
        """The factor for ``delta`` (1, 3, h, w) that meets the floor (above 1: room left)."""
        if self._calls % self.every == 0:
            with torch.inference_mode():
                score = float(self._score((self.view + delta.detach()).clamp(0, 1))[0])
            self._room = room_for(score, self.floor)
        self._calls += 1
        return self._room


class ScreenFit:
    """SSIMULACRA2 of a photo's changes as a screen shows it, and fitting a change's size.

    Args:
        pixels: (H, W, 3) uint8, the original photo.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        self.screen = screen_view(pixels)
        self._score = Ssimulacra2(self.screen)

    def score(self, changed: np.ndarray) -> float:
        """SSIMULACRA2 of the full-size ``changed`` photo against the original, on screen."""
        return self.score_screen(screen_view(changed))

    def score_screen(self, changed: np.ndarray) -> float:
        """SSIMULACRA2 of a changed photo already at screen size."""
        with torch.inference_mode():
            return float(self._score(changed)[0])

    def fit(
        self, render: Callable[[float], np.ndarray], floor: float, limit: float, tries: int = 3
    ) -> float:
        """The largest factor in [0, limit] whose change keeps ``floor``, within a few percent.

        Args:
            render: a factor -> the changed photo at screen size.
            floor: the SSIMULACRA2 to keep at least.
            limit: the largest factor allowed (the per-pixel caps).
        """
        scale, best = min(1.0, limit), 0.0
        for _ in range(tries):
            score = self.score_screen(render(scale))
            if score >= floor:
                best = max(best, scale)
                if scale >= limit or score - floor < 0.5:  # at the cap, or close enough
                    break
            # Aim a little inside the floor: rounding to whole levels makes scores uneven.
            scale = min(limit, scale * room_for(score, floor + 0.3))
        while best == 0.0 and scale > 1e-3:  # still above the floor: back off until under
            scale *= 0.7
            if self.score_screen(render(scale)) >= floor:
                best = scale
        return best


def share_within_floor(
    pixels: np.ndarray, render: Callable[[np.ndarray, float], np.ndarray], floor: float
) -> float:
    """The largest share (at most 1) of a change that keeps SSIMULACRA2 at ``floor`` on screen.

    For filters whose own budget is not SSIMULACRA2 (colour shifts, detail gain): the
    strength's floor holds for them too.

    Args:
        pixels: (H, W, 3) uint8, the original photo.
        render: (pixels of any size, share) -> those pixels with that share of the change.
        floor: the SSIMULACRA2 to keep at least.
    """
    screen = ScreenFit(pixels)
    return screen.fit(lambda share: render(screen.screen, share), floor, 1.0)
