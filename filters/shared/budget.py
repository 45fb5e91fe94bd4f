"""Spending a strength's perceptual budget: how much a filter may change what people see.

A :class:`~filters.shared.strengths.PerceptualBudget` bounds the SSIM (structure, as ``piq``
and :func:`filters.shared.quality.ssim` compute it) and the mean CIEDE2000 (colour) between
the photo and its protected version. Filters spend the budget where texture hides it (a change in
grass is not seen, the same change in clear sky is) and end with :func:`fit_scale`, which
scales the change to the largest size both bounds allow.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import kornia
import numpy as np
import torch

from filters.shared.quality import Similarity, as_tensor
from filters.shared.strengths import PerceptualBudget

__all__ = [
    "check_pixels",
    "fit_scale",
    "measure",
    "texture_mask",
    "tightened",
    "view_scale",
]


def texture_mask(
    images: torch.Tensor, *, window: int = 7, floor: float = 0.2, reference: float = 0.08
) -> torch.Tensor:
    """Where a change hides: local standard deviation of luminance, scaled to [floor, 1].

    SSIM's contrast term compares the added variance with the variance already there, so
    the mask grows with the local spread of grey levels; ``reference`` is the spread that
    gets the whole budget, ``floor`` what flat areas keep.

    Args:
        images: (B, 3, H, W) in [0, 1].

    Returns:
        (B, 1, H, W) weights in [floor, 1].

    >>> flat = texture_mask(torch.full((1, 3, 16, 16), 0.5))
    >>> round(float(flat.max()), 3)
    0.2
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
    grey = kornia.color.rgb_to_grayscale(images)
    mean = kornia.filters.box_blur(grey, (window, window), border_type="reflect")
    square = kornia.filters.box_blur(grey * grey, (window, window), border_type="reflect")
    spread = (square - mean * mean).clamp_min(0).sqrt()
    # Smooth the edges of the mask: a hard border between weights would itself be seen.
    spread = kornia.filters.gaussian_blur2d(spread, (5, 5), (1.5, 1.5), border_type="reflect")
    return (spread / reference).clamp(floor, 1.0)


def check_pixels(pixels: np.ndarray) -> np.ndarray:
    """The photo at the resolution SSIM judges it: ``piq`` pools by round(min side / 256).

    A smooth change measured here gives the full photo's SSIM and mean CIEDE2000 at a
    fraction of the cost.
    """
    factor = max(1, round(min(pixels.shape[:2]) / 256))
    if factor == 1:
        return pixels
    rows, cols = pixels.shape[0] // factor, pixels.shape[1] // factor
    # Whole windows only, as piq's average pooling; OpenCV's area resize is a box mean on
    # uint8, three times faster than pooling a float copy of the photo.
    whole = pixels[: rows * factor, : cols * factor]
    return cv2.resize(whole, (cols, rows), interpolation=cv2.INTER_AREA)


def _apply(pixels: np.ndarray, change: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(pixels + np.rint(change * scale), 0, 255).astype(np.uint8)


def measure(
    pixels: np.ndarray,
    change: np.ndarray,
    scale: float = 1.0,
    *,
    reference: Similarity | None = None,
) -> tuple[float, float]:
    """(SSIM, mean CIEDE2000) of ``pixels`` against ``pixels + scale * change``.

    Args:
        pixels: (H, W, 3) uint8.
        change: (H, W, 3) float, in levels of 255.
        reference: ``Similarity(as_tensor(pixels))``, when the caller measures many changes.
    """
    reference = reference or Similarity(as_tensor(pixels))
    changed = as_tensor(_apply(pixels, change, scale))
    return reference.ssim(changed) or 1.0, reference.ciede2000(changed)


def fit_scale(
    pixels: np.ndarray,
    change: np.ndarray,
    budget: PerceptualBudget,
    *,
    tries: int = 4,
    limit: float = 1.0,
) -> float:
    """A factor in [0, limit] for ``change`` that keeps ``budget``, close to the largest one.

    Mean CIEDE2000 grows about linearly with the factor and SSIM's loss about with its
    square, so each try rescales by what the worse bound allows (a secant step); two or
    three measurements usually land within a few percent of the bound.

    Args:
        pixels: (H, W, 3) uint8, best at :func:`check_pixels` resolution.
        change: (H, W, 3) float change in levels of 255, same size.
        budget: the bounds to keep.
        tries: measurements at most before backing off.
        limit: the largest factor allowed (above 1: a change may grow to fill the budget).

    >>> from filters.shared.strengths import BUDGETS
    >>> pixels = np.full((32, 32, 3), 128, np.uint8)
    >>> fit_scale(pixels, np.zeros((32, 32, 3)), BUDGETS["low"].perceptual)
    1.0
    """
    if pixels.shape != change.shape:
        raise ValueError(f"pixels {pixels.shape} and change {change.shape} differ in shape")
    reference = Similarity(as_tensor(pixels))
    scale, best = 1.0, 0.0
    for _ in range(tries):
        similarity, difference = measure(pixels, change, scale, reference=reference)
        room = min(
            budget.delta_e_max / max(difference, 1e-9),
            math.sqrt((1 - budget.ssim_min) / max(1 - similarity, 1e-9)),
        )
        if room >= 1:
            best = max(best, scale)
            if scale >= limit or room < 1.04:  # at the limit, or close enough to the bound
                break
        # Aim slightly inside the bound: rounding makes the measures a little uneven.
        scale = min(limit, scale * room * 0.95)
    while best == 0 and scale > 1e-3:  # still outside: back off until inside
        scale *= 0.7
        similarity, difference = measure(pixels, change, scale, reference=reference)
        if similarity >= budget.ssim_min and difference <= budget.delta_e_max:
            best = scale
    return best


def tightened(
    budget: PerceptualBudget, pixels: np.ndarray, change: np.ndarray, sent: np.ndarray
) -> PerceptualBudget | None:
    """The bounds a change must keep so that the file as written keeps ``budget``.

    The encoder adds a loss of its own (rounding to the file's quantisation steps) that
    does not shrink with the change; it is taken off the bounds. None when the file already
    keeps ``budget``.

    Args:
        pixels: (H, W, 3) uint8, best at :func:`check_pixels` resolution.
        change: (H, W, 3) float change in levels of 255, same size.
        sent: the file's decoded pixels at the same resolution.
    """
    reference = Similarity(as_tensor(pixels))
    written = as_tensor(sent)
    similarity, difference = reference.ssim(written) or 1.0, reference.ciede2000(written)
    if similarity >= budget.ssim_min and difference <= budget.delta_e_max:
        return None
    change_similarity, change_difference = measure(pixels, change, reference=reference)
    return replace(
        budget,
        ssim_min=min(0.999, budget.ssim_min + max(0.0, change_similarity - similarity)),
        delta_e_max=max(0.05, budget.delta_e_max - max(0.0, difference - change_difference)),
    )


def view_scale(
    view: torch.Tensor,
    delta: torch.Tensor,
    budget: PerceptualBudget,
    *,
    reference: Similarity | None = None,
) -> float:
    """A quick estimate, on the classifier's view, of the factor that meets ``budget``.

    Attacks rescale by it after each step to stay on the budget's edge, which is cheaper
    and stronger than shrinking a finished change. Above 1 when there is room left.

    Args:
        view: (1, 3, h, w) clean view in [0, 1].
        delta: (1, 3, h, w) change.
        reference: ``Similarity(view)``, when the caller already has it (attacks call
            this after every step).
    """
    reference = reference or Similarity(view)
    changed = (view + delta).clamp(0, 1)
    similarity = reference.ssim(changed) or 1.0
    return min(
        budget.delta_e_max / max(reference.ciede2000(changed), 1e-9),
        math.sqrt((1 - budget.ssim_min) / max(1 - similarity, 1e-9)),
    )
