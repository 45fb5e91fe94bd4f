"""filters/budget.py: strengths as SSIM/CIEDE2000 bounds, the texture mask, the final fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from filters.shared.budget import (
    check_pixels,
    fit_scale,
    measure,
    texture_mask,
    tightened,
)
from filters.shared.quality import ciede2000, ssim
from filters.shared.strengths import BUDGETS
from tests.photos import real_image


def smooth_change(shape: tuple[int, int], amplitude: float, seed: int = 0) -> np.ndarray:
    """A random change drawn at 1/8 of the size and upsampled, in levels of 255."""
    generator = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, shape[0] // 8, shape[1] // 8, generator=generator) * 2 - 1
    big = F.interpolate(small, size=shape, mode="bilinear", align_corners=False)
    return (big[0].permute(1, 2, 0) * amplitude).numpy()


def test_strengths_are_ordered():
    low, medium, high = (BUDGETS[s].perceptual for s in ("low", "medium", "high"))
    assert low.ssim_min > medium.ssim_min > high.ssim_min
    assert low.delta_e_max < medium.delta_e_max < high.delta_e_max
    assert low.eps < medium.eps < high.eps


def test_texture_mask_favours_texture():
    pixels = np.asarray(real_image(size=(160, 120))).copy()
    pixels[:, :40] = 128  # a flat band on the left
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    mask = texture_mask(image, floor=0.2)
    assert mask.shape == (1, 1, 120, 160)
    assert float(mask.min()) >= 0.2 and float(mask.max()) <= 1.0
    assert float(mask[..., :, :30].mean()) == pytest.approx(0.2)
    assert float(mask[..., :, 60:].mean()) > 0.4
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        texture_mask(image[:, :1])


@pytest.mark.parametrize("strength", ["low", "medium", "high"])
def test_fit_scale_keeps_the_budget_and_spends_it(strength):
    budget = BUDGETS[strength].perceptual
    pixels = np.asarray(real_image(size=(200, 160)))
    change = smooth_change(pixels.shape[:2], 60.0)
    scale = fit_scale(pixels, change, budget)
    assert 0 < scale < 1
    similarity, difference = measure(pixels, change, scale)
    assert similarity >= budget.ssim_min and difference <= budget.delta_e_max
    # Nearly all of the budget: a 10% larger change breaks one of the bounds.
    similarity, difference = measure(pixels, change, scale * 1.1)
    assert similarity < budget.ssim_min or difference > budget.delta_e_max


def test_fit_scale_keeps_a_change_within_budget_whole():
    pixels = np.asarray(real_image(size=(200, 160)))
    assert fit_scale(pixels, smooth_change(pixels.shape[:2], 1.0), BUDGETS["low"].perceptual) == 1
    with pytest.raises(ValueError, match="differ in shape"):
        fit_scale(pixels, np.zeros((10, 10, 3)), BUDGETS["low"].perceptual)


def test_check_pixels_stand_for_the_full_photo():
    pixels = np.asarray(real_image(size=(1024, 768)))
    small = check_pixels(pixels)
    assert small.shape == (256, 341, 3) and small.dtype == np.uint8
    assert check_pixels(small) is small
    # A smooth change measured on the small photo gives the full photo's figures.
    change = smooth_change((768, 1024), 10.0)
    changed = np.clip(pixels + np.rint(change), 0, 255).astype(np.uint8)
    pooled = torch.from_numpy(change).permute(2, 0, 1)[None]
    small_change = F.avg_pool2d(pooled, 3)[0].permute(1, 2, 0).numpy()
    similarity, difference = measure(small, small_change)
    assert similarity == pytest.approx(ssim(pixels, changed), abs=0.01)
    assert difference == pytest.approx(ciede2000(pixels, changed), rel=0.1)


def test_tightened_takes_the_encoders_own_loss_off_the_bounds():
    rng = np.random.default_rng(0)
    pixels = np.asarray(real_image())
    budget = BUDGETS["medium"].perceptual
    grain = F.avg_pool2d(torch.from_numpy(rng.normal(0, 40, (1, 1, *pixels.shape[:2]))), 3, 1, 1)
    change = np.repeat(grain[0, 0].numpy()[..., None], 3, axis=2)
    # What an encoder adds on top, whatever the change: a level or two either way.
    rounding = rng.integers(-2, 3, pixels.shape)

    def written(scale: float) -> np.ndarray:
        changed = np.clip(pixels + np.rint(change * scale), 0, 255)
        return np.clip(changed + rounding, 0, 255).astype(np.uint8)

    scale = fit_scale(pixels, change, budget)
    kept = np.clip(pixels + np.rint(change * scale), 0, 255).astype(np.uint8)
    assert tightened(budget, pixels, change * scale, kept) is None
    assert ssim(pixels, written(scale)) < budget.ssim_min  # the change kept it, the file not
    tighter = tightened(budget, pixels, change * scale, written(scale))
    assert tighter.ssim_min > budget.ssim_min and tighter.eps == budget.eps
    scale *= fit_scale(pixels, change * scale, tighter)
    assert ssim(pixels, written(scale)) >= budget.ssim_min
    assert ciede2000(pixels, written(scale)) <= budget.delta_e_max
    assert tightened(budget, pixels, change * scale, written(scale)) is None
