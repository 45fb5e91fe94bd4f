"""How much a filter changed a photo: SSIM and PSNR between original and output pixels.

Both walk the photo in bands of rows: a 12 MP photo as float would be 144 MB, and fresh
allocations that large cost more in page faults than the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import piq
import torch
import torch.nn.functional as F

__all__ = ["BAND_ROWS", "SSIM_WINDOW", "psnr", "ssim"]

SSIM_WINDOW = 11  # piq's default Gaussian window
BAND_ROWS = 64


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"need two uint8 images of one shape, got {a.shape} and {b.shape}")


def psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Peak signal-to-noise ratio in dB over all pixels; None when the images are equal.

    >>> psnr(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8))
    0.0
    """
    _check(a, b)
    total = 0
    for top in range(0, a.shape[0], BAND_ROWS):
        diff = np.subtract(a[top : top + BAND_ROWS], b[top : top + BAND_ROWS], dtype=np.int16)
        total += int(np.square(diff, dtype=np.int32).sum(dtype=np.int64))
    return None if total == 0 else 10 * math.log10(255**2 * a.size / total)


def _pooled(pixels: np.ndarray, factor: int) -> torch.Tensor:
    """(1, 3, H // factor, W // factor) float box averages, as ``F.avg_pool2d`` gives."""
    if not pixels.flags.writeable:  # torch warns on read-only arrays, even to read them
        pixels = pixels.copy()
    rows = max(1, BAND_ROWS // factor) * factor  # bands that hold whole pooling windows
    usable = pixels.shape[0] // factor * factor
    bands = []
    for top in range(0, usable, rows):
        band = torch.from_numpy(pixels[top : min(top + rows, usable)])
        band = band.permute(2, 0, 1)[None].contiguous().float()
        bands.append(F.avg_pool2d(band, kernel_size=factor) if factor > 1 else band)
    return torch.cat(bands, dim=2)


def ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """SSIM of two (H, W, 3) uint8 images as ``piq.ssim`` computes it by default.

    piq first average-pools by ``round(min(H, W) / 256)``; pooling here, band by band,
    before calling it gives the same number without piq's full-resolution copies.
    None for images smaller than the SSIM window.
    """
    _check(a, b)
    factor = max(1, round(min(a.shape[:2]) / 256))
    if min(a.shape[:2]) // factor < SSIM_WINDOW:
        return None
    return float(
        piq.ssim(_pooled(a, factor), _pooled(b, factor), data_range=255.0, downsample=False)
    )
