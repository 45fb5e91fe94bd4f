"""How much a filter changed a photo: SSIM, PSNR and CIEDE2000 between original and output.

None of them makes a float copy of a large photo: a 12 MP photo as float would be 144 MB,
and fresh allocations that large cost more in page faults than the arithmetic. SSIM is
piq's, computed by :class:`Similarity` (tests hold it to ``piq.ssim``).
"""

from __future__ import annotations

import math

import cv2
import kornia
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "BAND_ROWS",
    "SSIM_WINDOW",
    "Similarity",
    "as_tensor",
    "ciede2000",
    "delta_e2000",
    "psnr",
    "ssim",
]

SSIM_WINDOW = 11  # piq's default Gaussian window
SSIM_SIGMA = 1.5
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
    # OpenCV sums the squared differences of uint8 pixels exactly, without temporaries.
    total = cv2.norm(a, b, cv2.NORM_L2SQR)
    return None if total == 0 else 10 * math.log10(255**2 * a.size / total)


def as_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 pixels as a (1, 3, H, W) float tensor in [0, 1] (a copy: the array
    may be read-only)."""
    return torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None].float().div_(255)


def _pooled(pixels: np.ndarray, factor: int) -> torch.Tensor:
    """(1, 3, H // factor, W // factor) float box averages, as ``F.avg_pool2d`` gives.

    The sums are taken on integers, which are exact and twice as fast as pooling a float
    copy of a 12 MP photo.
    """
    rows, cols = pixels.shape[0] // factor, pixels.shape[1] // factor
    whole = pixels[: rows * factor, : cols * factor]
    if factor > 1:
        column_sums = np.uint16 if factor <= 257 else np.uint32  # factor * 255 must fit
        sums = whole.reshape(rows, factor, -1).sum(axis=1, dtype=column_sums)
        sums = sums.reshape(rows, cols, factor, 3).sum(axis=2, dtype=np.uint32)
        whole = sums.astype(np.float32) / (factor * factor)
    return torch.from_numpy(np.array(whole, np.float32)).permute(2, 0, 1)[None]


def ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """SSIM of two (H, W, 3) uint8 images as ``piq.ssim`` computes it by default.

    piq first average-pools by ``round(min(H, W) / 256)``; pooling here, on integers,
    gives the same number without piq's full-resolution float copies.
    None for images smaller than the SSIM window.
    """
    _check(a, b)
    factor = max(1, round(min(a.shape[:2]) / 256))
    if min(a.shape[:2]) // factor < SSIM_WINDOW:
        return None
    # Pooled here, so Similarity's own factor, round(min side / 256), comes out as 1.
    return Similarity(_pooled(a, factor) / 255).ssim(_pooled(b, factor) / 255)


def delta_e2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """Per-pixel CIEDE2000 colour difference (Sharma, Wu, Dalal 2005) of two Lab tensors.

    Written here because no package on this machine ships it offline. kL = kC = kH = 1.

    Args:
        lab1, lab2: (..., 3, H, W) CIE Lab, L in [0, 100].

    Returns:
        (..., H, W) differences; differentiable.

    >>> lab = torch.tensor([[[50.0]], [[2.6772]], [[-79.7751]]])
    >>> round(float(delta_e2000(lab, torch.tensor([[[50.0]], [[0.0]], [[-82.7485]]]))), 4)
    2.0425
    """
    if lab1.shape != lab2.shape or lab1.shape[-3] != 3:
        raise ValueError(f"need two (..., 3, H, W) Lab tensors, got {tuple(lab1.shape)}")
    l1, a1, b1 = lab1.unbind(-3)
    l2, a2, b2 = lab2.unbind(-3)
    c_mean = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.atan2(b1, a1p).remainder(2 * math.pi)
    h2p = torch.atan2(b2, a2p).remainder(2 * math.pi)
    chroma_zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = torch.where(
        dh > math.pi, dh - 2 * math.pi, torch.where(dh < -math.pi, dh + 2 * math.pi, dh)
    )
    dh = torch.where(chroma_zero, torch.zeros_like(dh), dh)
    d_lp, d_cp = l2 - l1, c2p - c1p
    d_hp = 2 * torch.sqrt(c1p * c2p + 1e-12) * torch.sin(dh / 2)
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    far = (h1p - h2p).abs() > math.pi
    hp_mean = torch.where(
        far, torch.where(h_sum < 2 * math.pi, h_sum / 2 + math.pi, h_sum / 2 - math.pi), h_sum / 2
    )
    hp_mean = torch.where(chroma_zero, h_sum, hp_mean)
    t = (
        1
        - 0.17 * torch.cos(hp_mean - math.radians(30))
        + 0.24 * torch.cos(2 * hp_mean)
        + 0.32 * torch.cos(3 * hp_mean + math.radians(6))
        - 0.20 * torch.cos(4 * hp_mean - math.radians(63))
    )
    d_theta = math.radians(30) * torch.exp(-(((torch.rad2deg(hp_mean) - 275) / 25) ** 2))
    r_c = 2 * torch.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / torch.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -torch.sin(2 * d_theta) * r_c
    terms = (d_lp / s_l) ** 2 + (d_cp / s_c) ** 2 + (d_hp / s_h) ** 2
    terms = terms + r_t * (d_cp / s_c) * (d_hp / s_h)
    return torch.sqrt(terms.clamp_min(0) + 1e-12) * (terms > 0)


def ciede2000(a: np.ndarray, b: np.ndarray) -> float:
    """Mean CIEDE2000 over all pixels of two (H, W, 3) uint8 sRGB images (0: identical).

    >>> grey = np.full((4, 4, 3), 128, np.uint8)
    >>> ciede2000(grey, grey)
    0.0
    """
    _check(a, b)
    total = 0.0
    for top in range(0, a.shape[0], BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        lab_a, lab_b = (kornia.color.rgb_to_lab(as_tensor(x[rows])) for x in (a, b))
        total += float(delta_e2000(lab_a, lab_b).double().sum())
    return total / (a.shape[0] * a.shape[1])


class Similarity:
    """SSIM and mean CIEDE2000 of many images against one reference, its share done once.

    Attacks and budget fits compare dozens of changed versions with the same photo, and
    piq and kornia recompute the reference's Lab and blurred moments on every call; here
    each call blurs the three moments that involve the other image in one grouped
    convolution. The values are :func:`ssim`'s (piq's: pooled by round(min side / 256),
    Gaussian window 11, valid borders) and :func:`ciede2000`'s, to float rounding.

    Args:
        reference: (1, 3, H, W) in [0, 1].
    """

    def __init__(self, reference: torch.Tensor) -> None:
        if reference.ndim != 4 or reference.shape[:2] != (1, 3):
            raise ValueError(f"reference must be (1, 3, H, W), got {tuple(reference.shape)}")
        reference = reference.detach().contiguous()
        self.shape = tuple(reference.shape)
        self._lab = kornia.color.rgb_to_lab(reference)
        self._factor = max(1, round(min(self.shape[-2:]) / 256))
        self._pooled = self._pool(reference)
        self.comparable = min(self._pooled.shape[-2:]) >= SSIM_WINDOW
        device = reference.device
        taps = kornia.filters.get_gaussian_kernel1d(SSIM_WINDOW, SSIM_SIGMA, device=device)
        self._rows = taps.reshape(1, 1, 1, SSIM_WINDOW).expand(9, 1, 1, SSIM_WINDOW).contiguous()
        self._cols = taps.reshape(1, 1, SSIM_WINDOW, 1).expand(9, 1, SSIM_WINDOW, 1).contiguous()
        if self.comparable:
            pooled = self._pooled
            mean, square = self._blur(torch.cat([pooled, pooled * pooled], dim=1)).split(3, dim=1)
            self._mean, self._mean_sq = mean, mean * mean
            self._variance = square - self._mean_sq

    def _pool(self, images: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(images, self._factor) if self._factor > 1 else images

    def _blur(self, planes: torch.Tensor) -> torch.Tensor:
        channels = planes.shape[1]
        # oneDNN's depthwise convolution is ~20x faster on channels-last planes.
        planes = planes.contiguous(memory_format=torch.channels_last)
        planes = F.conv2d(planes, self._rows[:channels], groups=channels)
        return F.conv2d(planes, self._cols[:channels], groups=channels)

    def _check(self, other: torch.Tensor) -> torch.Tensor:
        if tuple(other.shape) != self.shape:
            raise ValueError(f"expected an image of shape {self.shape}, got {tuple(other.shape)}")
        return other.detach().contiguous()

    def ssim(self, other: torch.Tensor) -> float | None:
        """SSIM of ``other`` against the reference; None when too small for the window."""
        other = self._check(other)
        if not self.comparable:
            return None
        pooled = self._pool(other)
        planes = torch.cat([pooled, pooled * pooled, self._pooled * pooled], dim=1)
        mean, square, product = self._blur(planes).split(3, dim=1)
        mean_sq, mean_product = mean * mean, self._mean * mean
        c1, c2 = 0.01**2, 0.03**2
        contrast = (2 * (product - mean_product) + c2) / (self._variance + (square - mean_sq) + c2)
        similarity = (2 * mean_product + c1) / (self._mean_sq + mean_sq + c1) * contrast
        return float(similarity.mean())

    def ciede2000(self, other: torch.Tensor) -> float:
        """Mean CIEDE2000 of ``other`` against the reference."""
        lab = kornia.color.rgb_to_lab(self._check(other))
        return float(delta_e2000(self._lab, lab).double().mean())
