"""filters/robust.py: the differentiable platform is close to the real one, and seeded."""

from __future__ import annotations

import io

import kornia
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from filters.codecs.errors import ProtectionError
from filters.shared import robust
from filters.shared.robust import PlatformTransform, classifier_view, platform_jpeg, smooth_gradient
from tests.photos import real_image


def as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)[None].float() / 255


def pillow_jpeg(image: Image.Image, quality: int) -> torch.Tensor:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return as_tensor(Image.open(buffer))


def test_differentiable_jpeg_is_close_to_pillow_and_has_a_gradient():
    image = real_image(size=(224, 224))
    clean = as_tensor(image).requires_grad_(True)
    coded = platform_jpeg(clean, (70, 70), torch.Generator().manual_seed(0))
    real = pillow_jpeg(image, 70)
    # Closer to Pillow's JPEG than the original is: it removes what JPEG removes.
    coded_error = float((coded.detach() - real).abs().mean())
    assert coded_error < 0.5 * float((clean.detach() - real).abs().mean())
    coded.sum().backward()
    assert clean.grad is not None and float(clean.grad.abs().sum()) > 0


def test_jpeg_value_is_exact_and_its_gradient_passes_the_rounding():
    # Odd sizes (padding); no saturated pixel, where the clipping rightly stops the gradient.
    image = (0.05 + 0.9 * as_tensor(real_image(size=(90, 67)))).requires_grad_(True)
    coded = platform_jpeg(image, (80, 80), torch.Generator())
    exact = kornia.enhance.jpeg_codec_differentiable(image.detach(), torch.tensor([80.0]))
    assert torch.allclose(coded.detach(), exact, atol=1e-6)
    # Straight through the rounding: a brighter input gives a brighter output everywhere,
    # where a rounding's own derivative is zero at every whole quantisation step.
    (coded.sum(dim=1)).sum().backward()
    grad = image.grad.sum(dim=1)
    assert float(grad.min()) > 0.5 and float(grad.max()) < 5


def test_jpeg_quality_range_is_checked():
    with pytest.raises(ValueError, match="quality range"):
        platform_jpeg(torch.rand(1, 3, 16, 16), (90, 80), torch.Generator())


def test_classifier_view_is_seeded_and_varies():
    images = as_tensor(real_image(size=(300, 256))).expand(3, -1, -1, -1)
    first = classifier_view(images, torch.Generator().manual_seed(1))
    again = classifier_view(images, torch.Generator().manual_seed(1))
    other = classifier_view(images, torch.Generator().manual_seed(2))
    assert first.shape == (3, 3, 224, 224) and torch.equal(first, again)
    assert not torch.equal(first, other) and not torch.equal(first[0], first[1])
    with pytest.raises(ValueError, match="scale range"):
        classifier_view(images, torch.Generator(), scale_range=(1.2, 0.8))


def test_classifier_view_crops_at_scale_or_squashes_the_whole_photo():
    # A photo as wide as two crops: a crop at scale 1 is a window of it, a squash sees all.
    left, right = torch.zeros(1, 3, 224, 224), torch.ones(1, 3, 224, 224)
    images = torch.cat([left, right], dim=3) + torch.linspace(0, 0.1, 448)
    crop = classifier_view(images, torch.Generator(), scale_range=(1.0, 1.0), squash=0.0)
    assert any(torch.equal(crop, images[..., k : k + 224]) for k in range(225))
    whole = classifier_view(images, torch.Generator(), squash=1.0)
    assert float(whole[..., :100].max()) < 0.1 and float(whole[..., 124:].min()) > 1
    mirrored = classifier_view(images, torch.Generator(), squash=1.0, flip=1.0)
    assert torch.equal(mirrored, whole.flip(-1))


def test_smoothing_removes_fine_detail_only():
    grad = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(smooth_gradient(grad, 0), grad)
    smooth = smooth_gradient(grad, 2.0)
    assert float(smooth.std()) < 0.3 * float(grad.std())
    flat = torch.ones(1, 3, 32, 32)
    assert torch.allclose(smooth_gradient(flat, 2.0), flat)


def test_platform_transform_follows_the_profile():
    images = as_tensor(real_image(size=(96, 96))).expand(2, -1, -1, -1)
    none = PlatformTransform("none", torch.Generator(), squash=1.0, size=96)
    assert torch.equal(none(images), images)
    seeded = torch.Generator().manual_seed(0)
    instagram = PlatformTransform("instagram", seeded, squash=1.0, size=96)
    changed = instagram(images)
    assert changed.shape == images.shape and not torch.equal(changed, images)
    assert float((changed - images).abs().mean()) < 0.05
    with pytest.raises(ProtectionError, match="unknown platform profile"):
        PlatformTransform("myspace", torch.Generator())


def test_platform_transform_writes_the_photo_at_its_own_quality_first():
    image = real_image(size=(96, 96))
    clean = as_tensor(image)
    lossless = PlatformTransform("none", torch.Generator(), squash=1.0, size=96)
    assert torch.equal(lossless.sent(clean), clean)
    coarse = PlatformTransform("none", torch.Generator(), squash=1.0, size=96, own_quality=30)
    real = pillow_jpeg(image, 30)
    # Closer to Pillow's JPEG at that quality than the photo is; the view sees it too.
    coded = coarse.sent(clean)
    assert float((coded - real).abs().mean()) < 0.5 * float((clean - real).abs().mean())
    assert torch.allclose(coarse(clean), coded, atol=1e-6)


def test_half_size_is_the_antialiased_resize():
    images = torch.rand(2, 3, 10, 14, dtype=torch.float64)
    expected = F.interpolate(images, scale_factor=0.5, mode="bilinear", antialias=True)
    assert torch.allclose(robust._half_size(images), expected, atol=1e-12)
