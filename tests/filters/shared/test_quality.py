"""filters/quality.py: SSIM as piq computes it, PSNR by its definition, CIEDE2000 by its paper."""

from __future__ import annotations

import kornia
import numpy as np
import piq
import pytest
import torch

from filters.shared.quality import Similarity, ciede2000, delta_e2000, psnr, ssim
from tests.photos import real_image


def as_tensor(pixels: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].to(dtype) / 255


def piq_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """piq's SSIM in float64: in float32 its own rounding reaches 1.4e-5 on these photos."""
    return float(piq.ssim(as_tensor(a, torch.float64), as_tensor(b, torch.float64), data_range=1.0))


@pytest.mark.parametrize("size", [(320, 240), (1031, 777)])
def test_ssim_equals_piq_default(size):
    a = np.asarray(real_image(size=size))
    noise = np.random.default_rng(0).integers(-12, 13, a.shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    assert ssim(a, b) == pytest.approx(piq_ssim(a, b), abs=1e-5)
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


# Pairs from Sharma, Wu and Dalal's CIEDE2000 test data (Color Res. Appl. 30, 2005).
SHARMA_PAIRS = [
    ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
    ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
    ((50, 0, 0), (50, -1, 2), 2.3669),
    ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
    ((50, 2.5, 0), (73, 25, -18), 27.1492),
    ((50, 2.5, 0), (61, -5, 29), 22.8977),
    ((50, 2.5, 0), (56, -27, -3), 31.9030),
    ((50, 2.5, 0), (58, 24, 15), 19.4535),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_delta_e2000_matches_published_pairs(lab1, lab2, expected):
    first = torch.tensor(lab1, dtype=torch.float64)[:, None, None]
    second = torch.tensor(lab2, dtype=torch.float64)[:, None, None]
    assert float(delta_e2000(first, second)) == pytest.approx(expected, abs=1e-4)
    assert float(delta_e2000(second, first)) == pytest.approx(expected, abs=1e-4)


def test_ciede2000_of_photos_grows_with_the_change():
    a = np.asarray(real_image(size=(200, 150)))
    small = np.clip(a.astype(int) + 2, 0, 255).astype(np.uint8)
    large = np.clip(a.astype(int) + np.array([12, -12, 6]), 0, 255).astype(np.uint8)
    assert ciede2000(a, a) == 0.0
    assert 0 < ciede2000(a, small) < ciede2000(a, large)
    # The mean is over pixels: a change in one quarter of the photo gives a quarter of it.
    part = a.copy()
    part[:75, :100] = large[:75, :100]
    whole = delta_e2000(*(quality_lab(x) for x in (a, large)))[:75, :100].mean()
    assert ciede2000(a, part) == pytest.approx(float(whole) / 4, rel=1e-4)
    with pytest.raises(ValueError, match="one shape"):
        ciede2000(a, a[:10])


def quality_lab(pixels: np.ndarray) -> torch.Tensor:
    return kornia.color.rgb_to_lab(torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255)


def test_similarity_to_a_reference_gives_the_one_off_measures():
    a = np.asarray(real_image(size=(320, 240)))
    noise = np.random.default_rng(1).integers(-9, 10, a.shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    reference = Similarity(as_tensor(a))
    assert reference.ssim(as_tensor(b)) == pytest.approx(piq_ssim(a, b), abs=1e-5)
    assert reference.ciede2000(as_tensor(b)) == pytest.approx(ciede2000(a, b), rel=1e-5)
    assert reference.ssim(as_tensor(a)) == pytest.approx(1.0)
    assert reference.ciede2000(as_tensor(a)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        reference.ssim(as_tensor(b[:100]))
    tiny = torch.zeros(1, 3, 8, 8)
    assert Similarity(tiny).ssim(tiny) is None
