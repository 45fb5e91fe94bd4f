"""Differentiable stand-ins for what happens to a photo between Veil and a classifier.

Expectation over transformations (Athalye et al., ICML 2018): each attack step sees the
photo through random draws of what the platform and an unknown classifier do to it, so
the change that survives is the one that works through all of them:

- the platform: resize to its long edge, then JPEG at a quality drawn from its range
  (kornia's JPEG, Reich et al. 2024, with a straight-through gradient: see
  :func:`platform_jpeg`);
- the classifier's own view: a rescale and a square crop, or the whole photo squashed
  (input diversity, Xie et al., CVPR 2019);
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

from filters.shared.platforms import PlatformProfile, get_profile

__all__ = [
    "PlatformTransform",
    "classifier_view",
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
            blocks. With the straight-through gradient, coding the view itself (1) gave
            the same judge figures as 1.5 and 2 on the development photos, for less time.

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
    # Drawn on the CPU (the generator's device), so a seed gives the same draws everywhere.
    quality = torch.randint(low, high + 1, (images.shape[0],), generator=generator)
    quality = quality.float().to(images.device)
    size = images.shape[-2:]
    if scale != 1.0:
        big = (round(size[0] * scale), round(size[1] * scale))
        images = F.interpolate(images, size=big, mode="bilinear", align_corners=False)
    images = images.clamp(0, 1)
    # Backward pass through the codec's linear part, the forward value exact (BPDA, Athalye
    # et al. 2018): rounding to a quantisation step moves a coefficient by the change on
    # average, so its expected derivative is 1. Kornia's polynomial rounding gives the same
    # judge figures and costs 7x its forward pass in the backward one (76 ms a step).
    with torch.no_grad():
        exact = kornia.enhance.jpeg_codec_differentiable(images, quality)
    linear = _chroma_round_trip(images)
    coded = linear + (exact - linear).detach()
    if scale != 1.0:
        # Antialiased only when shrinking: growing, it gives the same values, and the
        # antialiased resize's CUDA backward pass is not deterministic.
        coded = F.interpolate(coded, size=size, mode="bilinear", antialias=scale > 1)
    return coded


def _halve_last(values: torch.Tensor) -> torch.Tensor:
    """[1, 3, 3, 1] / 8 taps at stride 2 along the last dimension (even), zeros beyond the ends."""
    size = values.shape[-1]
    padded = F.pad(values, (1, 1))
    outer = padded[..., 0:size:2] + padded[..., 3 : size + 3 : 2]
    return (outer + 3 * (padded[..., 1 : size + 1 : 2] + padded[..., 2 : size + 2 : 2])) / 8


def _half_size(images: torch.Tensor) -> torch.Tensor:
    """``F.interpolate(images, scale_factor=0.5, mode="bilinear", antialias=True)`` for even
    sizes: its [1, 3, 3, 1] / 8 taps (weights renormalised at the borders) as strided slices.
    The same values, 4x faster than convolutions on the CPU (fewer than four channels) and a
    backward pass that is deterministic on CUDA, which the antialiased resize's is not.
    """
    height, width = images.shape[-2:]
    rows = _halve_last(images.transpose(-1, -2)).transpose(-1, -2)
    halved = _halve_last(rows)
    ones = torch.ones(max(height, width), dtype=images.dtype, device=images.device)
    weights = _halve_last(ones[:height])[:, None] * _halve_last(ones[:width])[None, :]
    return halved / weights


def _chroma_round_trip(images: torch.Tensor) -> torch.Tensor:
    """What JPEG does to a photo besides rounding: Cb and Cr at half size and back (as kornia)."""
    height, width = images.shape[-2:]
    even = F.pad(images, (0, width % 2, 0, height % 2), mode="replicate")
    ycbcr = kornia.color.rgb_to_ycbcr(even)
    chroma = _half_size(ycbcr[:, 1:])
    chroma = F.interpolate(chroma, scale_factor=2.0, mode="bilinear", align_corners=False)
    rgb = kornia.color.ycbcr_to_rgb(torch.cat([ycbcr[:, :1], chroma], dim=1))
    return rgb[..., :height, :width]


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


def classifier_view(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    size: int = 224,
    scale_range: tuple[float, float] = (0.8, 1.15),
    squash: float = 0.2,
    flip: float = 0.0,
) -> torch.Tensor:
    """How an unknown classifier might look at each photo: one random draw per image.

    Most ImageNet classifiers resize the shorter side and centre-crop a square (torchvision
    and timm: 256 then 224); some squash the whole photo to a square. A change made for one
    fixed view fails at another scale, so each draw rescales the aspect-kept ``images`` by
    a factor in ``scale_range`` and crops ``size`` pixels at a random place, or, with
    probability ``squash``, squashes the whole image (input diversity, Xie et al. 2019);
    then, with probability ``flip``, mirrors it (classifiers are trained on both).

    Args:
        images: (B, 3, H, W) in [0, 1], shorter side about ``size / 0.875``.

    Returns:
        (B, 3, size, size).

    >>> g = torch.Generator().manual_seed(0)
    >>> classifier_view(torch.rand(2, 3, 256, 341), g).shape
    torch.Size([2, 3, 224, 224])
    """
    _check(images)
    low, high = scale_range
    if not 0 < low <= high:
        raise ValueError(f"scale range must be positive and ordered, got {scale_range}")
    height, width = images.shape[-2:]
    out = []
    for image in images:
        image = image[None]
        if float(torch.rand(1, generator=generator)) < squash:
            image = _resize(image, (size, size))
        else:
            factor = float(_uniform(generator, low, high))
            rows, cols = max(size, round(height * factor)), max(size, round(width * factor))
            image = _resize(image, (rows, cols))
            top = int(torch.randint(0, rows - size + 1, (1,), generator=generator))
            left = int(torch.randint(0, cols - size + 1, (1,), generator=generator))
            image = image[..., top : top + size, left : left + size]
        if flip and float(torch.rand(1, generator=generator)) < flip:
            image = image.flip(-1)
        out.append(image)
    return torch.cat(out)


def smooth_gradient(grad: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian-smoothed gradient (translation-invariant attack); ``sigma`` 0 returns it as is."""
    if sigma <= 0:
        return grad
    size = 2 * math.ceil(2 * sigma) + 1
    return kornia.filters.gaussian_blur2d(grad, (size, size), (sigma, sigma), border_type="reflect")


class PlatformTransform(nn.Module):
    """One random draw of the platform and the viewer: aspect-kept views in, 224 px out.

    Args:
        profile: the platform (name or profile); ``none`` skips the JPEG.
        generator: the random source; the caller seeds it.
        squash, flip: see :func:`classifier_view`.
        jpeg_scale: see :func:`platform_jpeg`: the photo's size over the view's, for a
            photo smaller than the view, whose JPEG blocks cover more of it.
        own_quality: the JPEG quality the photo itself is written at before upload (a
            small photo saved at quality 60 loses most of a change there); None: lossless.
        size: the classifier's input side.
    """

    def __init__(
        self,
        profile: PlatformProfile | str,
        generator: torch.Generator,
        *,
        squash: float = 0.2,
        flip: float = 0.0,
        jpeg_scale: float = 1.0,
        own_quality: int | None = None,
        size: int = 224,
    ) -> None:
        super().__init__()
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.generator = generator
        self.squash = squash
        self.flip = flip
        self.jpeg_scale = jpeg_scale
        self.own_quality = own_quality
        self.size = size

    def sent(self, images: torch.Tensor) -> torch.Tensor:
        """The images as the photo's own encoder writes them (no randomness)."""
        if self.own_quality is None:
            return images
        quality = (self.own_quality, self.own_quality)
        return platform_jpeg(images, quality, self.generator, scale=self.jpeg_scale)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check(images)
        images = self.sent(images)
        if self.profile.quality_range is not None:
            images = platform_jpeg(
                images, self.profile.quality_range, self.generator, scale=self.jpeg_scale
            )
        return classifier_view(
            images, self.generator, size=self.size, squash=self.squash, flip=self.flip
        )
