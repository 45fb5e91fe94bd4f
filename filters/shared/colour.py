"""Colour helpers the filters share: a smooth change applied exactly in CIE Lab.

``colorfool`` shifts a and b per region, ``edgefool`` changes L; both make the change on the
classifier's small view and apply it to the full photo here, as a bilinear field.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab

__all__ = ["change_lab", "upsampler"]

BAND_ROWS = 256  # full-resolution rows converted at once: ~12 MB of floats a band
GAMUT_SCALES = (0.5, 0.25, 0.0)  # smaller changes tried where a pixel leaves the sRGB gamut


def upsampler(size: int, full: int) -> torch.Tensor:
    """(full, size) matrix of one axis of a bilinear resize from ``size`` to ``full``.

    >>> upsampler(2, 4)
    tensor([[1.0000, 0.0000],
            [0.7500, 0.2500],
            [0.2500, 0.7500],
            [0.0000, 1.0000]])
    """
    basis = torch.eye(size)[:, None, :, None].expand(size, 1, size, 2).contiguous()
    return F.interpolate(basis, size=(full, 2), mode="bilinear")[:, 0, :, 0].T.contiguous()


def change_lab(pixels: np.ndarray, field: torch.Tensor) -> np.ndarray:
    """Add a smooth (dL, da, db) change to a photo, exactly in CIE Lab.

    The change is upsampled bilinearly to the photo and applied band by band; pixels with
    no change are copied bit for bit, and where the change would leave the sRGB gamut a
    smaller one (:data:`GAMUT_SCALES`) is used, so no channel is clipped: with dL = 0 the
    lightness stays as it was, up to rounding.

    Args:
        pixels: (H, W, 3) uint8 RGB.
        field: (1, 3, h, w) change in Lab units at any resolution.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be (H, W, 3) uint8, got {pixels.shape}")
    if field.ndim != 4 or field.shape[:2] != (1, 3):
        raise ValueError(f"field must be (1, 3, h, w), got {tuple(field.shape)}")
    height, width = pixels.shape[:2]
    rows, cols = upsampler(field.shape[2], height), upsampler(field.shape[3], width).T
    field = field.detach()[0].float().cpu()
    out = pixels.copy()
    for top in range(0, height, BAND_ROWS):
        change = rows[top : top + BAND_ROWS] @ field @ cols  # (3, band, W)
        moved = (change != 0).any(dim=0)
        if not bool(moved.any()):
            continue
        band = torch.from_numpy(pixels[top : top + BAND_ROWS][moved.numpy()]).float() / 255
        lab = rgb_to_lab(band.T[:, None, :])  # (3, 1, N): only the pixels that change
        delta = change[:, moved][:, None, :]
        rgb = lab_to_rgb(lab + delta, clip=False)
        for scale in GAMUT_SCALES:
            outside = ((rgb < -0.5 / 255) | (rgb > 1 + 0.5 / 255)).any(dim=0, keepdim=True)
            if not bool(outside.any()):
                break
            smaller = lab_to_rgb(lab + delta * scale, clip=False)
            rgb = torch.where(outside, smaller, rgb)
        levels = (rgb[:, 0].T * 255).round_().clamp_(0, 255).to(torch.uint8).numpy()
        out[top : top + BAND_ROWS][moved.numpy()] = levels
    return out
