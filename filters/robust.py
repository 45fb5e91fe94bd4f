"""Differentiable stand-ins for what happens to a photo between Veil and a classifier.

Expectation over transformations (Athalye et al., ICML 2018): each attack step sees the
photo through random draws of what the platform and an unknown classifier do to it, so
the change that survives is the one that works through all of them:

- the platform: resize to its long edge, then JPEG at a quality drawn from its range
  (kornia's differentiable JPEG, Reich et al. 2024);
- the classifier's own view: random crops and rescales (input diversity, Xie et al.,
  CVPR 2019), which also stand in for centre crops of other aspect ratios;
- translation invariance (Dong et al., CVPR 2019): the gradient is smoothed before use.

All functions take (B, 3, H, W) float tensors in [0, 1] and a ``torch.Generator``, so one
seed gives one result.
"""

from __future__ import annotations

import math

import kornia
import torch
import torch.nn.functional as F
from torch import nn

from filters.platforms import PlatformProfile, get_profile

__all__ = [
    "PlatformTransform",
    "input_diversity",
    "platform_jpeg",
    "smooth_gradient",
]


def _check(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")


def _uniform(generator: torch.Generator, low: float, high: float, size: int = 1) -> torch.Tensor:
    return low + (high - low) * torch.rand(size, generator=generator)


def platform_jpeg(
    images: torch.Tensor,
    quality_range: tuple[int, int],
    generator: torch.Generator,
    *,
    scale: float = 1.0,
) -> torch.Tensor:
    """Differentiable JPEG at a quality drawn per image from ``quality_range``.

    Args:
        images: (B, 3, H, W) in [0, 1].
        quality_range: lowest and highest JPEG quality, inclusive.
        generator: source of the random qualities.
        scale: code the images at ``scale`` times their size and come back. The platform
            codes the full photo, where a change from the small view covers several 8x8
            blocks; coding the small view itself would be too harsh.

    Returns:
        (B, 3, H, W) what a decoder shows.

    >>> g = torch.Generator().manual_seed(0)
    >>> platform_jpeg(torch.rand(2, 3, 16, 16), (70, 90), g).shape
    torch.Size([2, 3, 16, 16])
    """
    _check(images)
    low, high = quality_range
    if not 1 <= low <= high <= 100:
        raise ValueError(f"quality range must be within 1..100, got {quality_range}")
    quality = torch.randint(low, high + 1, (images.shape[0],), generator=generator).float()
    size = images.shape[-2:]
    if scale != 1.0:
        big = (round(size[0] * scale), round(size[1] * scale))
        images = F.interpolate(images, size=big, mode="bilinear", align_corners=False)
    coded = kornia.enhance.jpeg_codec_differentiable(images.clamp(0, 1), quality)
    if scale != 1.0:
        coded = F.interpolate(coded, size=size, mode="bilinear", antialias=True)
    return coded


def input_diversity(
    images: torch.Tensor, generator: torch.Generator, *, min_crop: float = 0.8
) -> torch.Tensor:
    """A random crop of each axis (``min_crop`` to all of it) resized back to the input size.

    >>> g = torch.Generator().manual_seed(0)
    >>> input_diversity(torch.rand(2, 3, 32, 32), g).shape
    torch.Size([2, 3, 32, 32])
    """
    _check(images)
    if not 0 < min_crop <= 1:
        raise ValueError(f"min_crop must be in (0, 1], got {min_crop}")
    height, width = images.shape[-2:]
    out = []
    for image in images:
        rows = max(1, round(height * float(_uniform(generator, min_crop, 1.0))))
        cols = max(1, round(width * float(_uniform(generator, min_crop, 1.0))))
        top = int(torch.randint(0, height - rows + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - cols + 1, (1,), generator=generator))
        crop = image[None, :, top : top + rows, left : left + cols]
        out.append(F.interpolate(crop, size=(height, width), mode="bilinear", align_corners=False))
    return torch.cat(out)


def smooth_gradient(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-smoothed gradient (translation-invariant attack); ``sigma`` 0 returns it as is."""
    if sigma <= 0:
        return grad
    size = 2 * math.ceil(2 * sigma) + 1
    return kornia.filters.gaussian_blur2d(grad, (size, size), (sigma, sigma), border_type="reflect")


class PlatformTransform(nn.Module):
    """One random draw of the platform and the viewer, applied to a batch of views.

    Args:
        profile: the platform (name or profile); ``none`` skips the JPEG.
        generator: the random source; the caller seeds it.
        diversity: probability that an image gets a random crop and rescale.
        jpeg_scale: see :func:`platform_jpeg`.
    """

    def __init__(
        self,
        profile: PlatformProfile | str,
        generator: torch.Generator,
        *,
        diversity: float = 0.7,
        jpeg_scale: float = 2.0,
    ) -> None:
        super().__init__()
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.generator = generator
        self.diversity = diversity
        self.jpeg_scale = jpeg_scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check(images)
        if self.profile.quality_range is not None:
            images = platform_jpeg(
                images, self.profile.quality_range, self.generator, scale=self.jpeg_scale
            )
        if self.diversity > 0:
            chosen = torch.rand(images.shape[0], generator=self.generator) < self.diversity
            if bool(chosen.any()):
                varied = input_diversity(images, self.generator)
                images = torch.where(chosen[:, None, None, None], varied, images)
        return images
