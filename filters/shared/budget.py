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

import cv2
import numpy as np
import torch

from filters.shared.ssimulacra2 import Ssimulacra2
from filters.shared.visibility import screen_view

__all__ = [
    "DETAIL_MOST",
    "GROWTH",
    "ScreenFit",
    "ViewBound",
    "detail_gain",
    "room_for",
    "share_within_floor",
    "texture_mask",
    "texture_share",
]

# 100 - SSIMULACRA2 ~ size ** GROWTH.
GROWTH = 1.2
# Where a pixel sits within this (Sobel magnitude of grey in [0, 1]) of a strong edge, the
# change would show as a halo along it: it keeps EDGE_KEEP of its share.
STRONG_EDGE = 0.25
EDGE_KEEP = 0.2
# The most a change made on a view may grow on a photo's own detail (detail_gain).
DETAIL_MOST = 2.0


def room_for(score: float, floor: float) -> float:
    """The factor that brings a change scoring ``score`` to the ``floor`` (above 1: room).

    >>> round(room_for(90.0, 80.0), 3)
    1.782
    """
    return ((100.0 - floor) / max(100.0 - score, 1e-6)) ** (1 / GROWTH)


def texture_share(
    pixels: np.ndarray, *, window: int = 7, floor: float = 0.1, reference: float = 0.08
) -> np.ndarray:
    """Where a change hides: local spread of luminance, scaled to [floor, 1], less at edges.

    SSIM-like measures and the eye compare an added change with the contrast already there,
    so the share grows with the local standard deviation of grey levels; ``reference`` is the
    spread that gets the whole budget, ``floor`` what flat areas keep. Around strong edges the
    share falls to :data:`EDGE_KEEP` of it: a change there draws a halo along the edge.
    OpenCV, not kornia: the same filters, ten times faster on a 3 MP photo (0.05 s, not 0.5).

    Args:
        pixels: (H, W, 3) in [0, 1] (float32) or uint8.

    Returns:
        (H, W) float32 weights in [0, 1].

    >>> round(float(texture_share(np.full((16, 16, 3), 128, np.uint8)).max()), 3)
    0.1
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"pixels must be (H, W, 3), got {pixels.shape}")
    rgb = pixels.astype(np.float32) / 255 if pixels.dtype == np.uint8 else pixels
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    box = (window, window)
    mean = cv2.blur(grey, box, borderType=cv2.BORDER_REFLECT_101)
    square = cv2.blur(grey * grey, box, borderType=cv2.BORDER_REFLECT_101)
    spread = np.sqrt(np.maximum(square - mean * mean, 0))
    # Smooth the edges of the mask: a hard border between weights would itself be seen.
    spread = cv2.GaussianBlur(spread, (5, 5), 1.5, borderType=cv2.BORDER_REFLECT_101)
    share = np.clip(spread / reference, floor, 1.0)
    # Sobel magnitude, normalised as kornia's (kernel / 8), edges replicated.
    along = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE) / 8
    across = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE) / 8
    edges = (np.hypot(along, across) > STRONG_EDGE).astype(np.float32)
    edges = cv2.dilate(edges, np.ones((5, 5), np.uint8))
    edges = cv2.GaussianBlur(edges, (5, 5), 1.0, borderType=cv2.BORDER_REFLECT_101)
    return share * (1 - (1 - EDGE_KEEP) * edges)


def texture_mask(
    images: torch.Tensor, *, window: int = 7, floor: float = 0.1, reference: float = 0.08
) -> torch.Tensor:
    """:func:`texture_share` of a batch of views: (B, 3, H, W) in [0, 1] -> (B, 1, H, W).

    >>> flat = texture_mask(torch.full((1, 3, 16, 16), 0.5))
    >>> round(float(flat.max()), 3)
    0.1
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    rows = images.detach().permute(0, 2, 3, 1).float().cpu().numpy()
    shares = [texture_share(row, window=window, floor=floor, reference=reference) for row in rows]
    return torch.from_numpy(np.stack(shares))[:, None].to(images.device, images.dtype)


def detail_gain(
    pixels: np.ndarray, view_size: tuple[int, int], *, floor: float = 0.1, most: float = DETAIL_MOST
) -> np.ndarray:
    """How a change made on a small view is spread over the photo's own detail.

    Each view pixel covers a block of the photo; inside it the change follows the photo's
    :func:`texture_share` at its own resolution: more on hair and leaves, less on the smooth
    skin or sky beside them, and little along a fine edge the view could not see. The gain
    averages about 1 over each block (at most ``most``), so what a classifier sees of the
    photo at its own scale is the view's change, and what a person sees close up follows
    the photo's texture instead of the view's blocks.

    Args:
        pixels: (H, W, 3) uint8, the photo (or what a screen shows of it).
        view_size: (h, w) of the view the change was made on.

    Returns:
        (H, W) float32 gains in [0, most].
    """
    share = texture_share(pixels, floor=floor)
    height, width = share.shape
    # Mean share over each view pixel's block, spread back smoothly over the photo.
    block = cv2.resize(share, view_size[::-1], interpolation=cv2.INTER_AREA)
    around = cv2.resize(block, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.minimum(share / np.maximum(around, 1e-3), most)


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
        current: the photo the change is added to, when earlier filters changed it already:
            changes are drawn on :attr:`base` and measured against ``pixels``.
    """

    def __init__(self, pixels: np.ndarray, current: np.ndarray | None = None) -> None:
        self.screen = screen_view(pixels)
        self.base = self.screen if current is None or current is pixels else screen_view(current)
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
    pixels: np.ndarray,
    render: Callable[[np.ndarray, float], np.ndarray],
    floor: float,
    reference: np.ndarray | None = None,
) -> float:
    """The largest share (at most 1) of a change that keeps SSIMULACRA2 at ``floor`` on screen.

    For filters whose own budget is not SSIMULACRA2 (colour shifts, detail gain): the
    strength's floor holds for them too.

    Args:
        pixels: (H, W, 3) uint8, the photo the change is added to.
        render: (pixels of any size, share) -> those pixels with that share of the change.
        floor: the SSIMULACRA2 to keep at least.
        reference: what the change is measured against (a chain's original photo); default
            ``pixels``.
    """
    screen = ScreenFit(pixels if reference is None else reference, pixels)
    return screen.fit(lambda share: render(screen.base, share), floor, 1.0)
