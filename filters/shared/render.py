"""Laying a change made on an attack's small view onto the full photo.

The change is upsampled and, at up to :data:`SHAPE_EDGE`, spread over the photo's own
detail (:func:`~filters.shared.budget.detail_gain`), then rounded to whole levels and added.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from filters.shared.budget import detail_gain
from filters.shared.visibility import screen_view

__all__ = ["SHAPE_EDGE", "render_delta", "shaped_gain"]

BAND_ROWS = 64
# The change follows the photo's own detail up to this size: no platform keeps more (facebook
# 2048 px), and beyond it the texture costs more than it gives (0.05 s at 3 MP, 0.2 at 12).
SHAPE_EDGE = 2048


def render_delta(
    pixels: np.ndarray, delta: torch.Tensor, gain: np.ndarray | None = None
) -> np.ndarray:
    """Add a (1, 3, h, w) change in [0, 1] units to (H, W, 3) uint8 pixels, upsampled bilinearly.

    ``gain`` (from :func:`shaped_gain`) spreads the change over the photo's own detail, at
    its size, before the last upsampling to the photo. The change is rounded to whole levels
    first, so the result differs from ``pixels`` by at most ``round(max|delta * gain| * 255)``.
    """
    height, width = pixels.shape[:2]
    levels = delta.detach().cpu().float() * 255
    if gain is not None:
        size = gain.shape
        levels = F.interpolate(levels, size=size, mode="bilinear", align_corners=False)
        levels = levels.mul_(torch.from_numpy(gain))
    # uint8 with an offset of 128: torch's uint8 channels-last resize is the fast path.
    levels = levels.round_().add_(128).clamp_(0, 255).to(torch.uint8)
    levels = levels.contiguous(memory_format=torch.channels_last)
    big = F.interpolate(levels, size=(height, width), mode="bilinear", align_corners=False)
    change = big[0].permute(1, 2, 0).numpy()  # (H, W, 3) view, no copy
    out = np.empty_like(pixels)
    # Bands of rows: a full-size int16 temporary costs more in page faults than the sums.
    for top in range(0, height, BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        band = np.add(pixels[rows], change[rows], dtype=np.int16)
        band -= 128
        np.clip(band, 0, 255, out=band)
        out[rows] = band
    return out


def shaped_gain(pixels: np.ndarray, view_size: tuple[int, int], floor: float) -> np.ndarray:
    """:func:`detail_gain` of a photo at up to :data:`SHAPE_EDGE` (box means above it)."""
    return detail_gain(screen_view(pixels, SHAPE_EDGE), view_size, floor=floor)
