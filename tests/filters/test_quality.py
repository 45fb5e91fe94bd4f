"""filters/quality.py: SSIM as piq computes it by default, PSNR by its definition."""

from __future__ import annotations

import numpy as np
import piq
import pytest
import torch

from filters.quality import psnr, ssim
from tests.filters.conftest import real_image


def as_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("size", [(320, 240), (1031, 777)])
def test_ssim_equals_piq_default(size):
    a = np.asarray(real_image(size=size))
    noise = np.random.default_rng(0).integers(-12, 13, a.shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    reference = float(piq.ssim(as_tensor(a), as_tensor(b), data_range=1.0))
    assert ssim(a, b) == pytest.approx(reference, abs=1e-5)
    assert ssim(a, a) == pytest.approx(1.0)


def test_psnr_of_a_one_level_change():
    a = np.full((10, 10, 3), 100, np.uint8)
    assert psnr(a, a + 1) == pytest.approx(20 * np.log10(255), abs=1e-9)
    assert psnr(a, a) is None


def test_tiny_images_have_no_ssim_and_shapes_must_match():
    tiny = np.zeros((8, 8, 3), np.uint8)
    assert ssim(tiny, tiny) is None
    with pytest.raises(ValueError, match="one shape"):
        psnr(tiny, np.zeros((8, 9, 3), np.uint8))
