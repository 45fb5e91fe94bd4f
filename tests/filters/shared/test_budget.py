"""filters/shared/budget.py: where a change may go, and fitting it to an SSIMULACRA2 floor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from filters.shared.budget import (
    DETAIL_MOST,
    EDGE_KEEP,
    ScreenFit,
    ViewBound,
    detail_gain,
    room_for,
    texture_mask,
    texture_share,
)
from filters.shared.ssimulacra2 import ssimulacra2
from filters.shared.strengths import BUDGETS, STRENGTHS
from tests.photos import real_image


def as_view(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255


def smooth_change(shape: tuple[int, int], amplitude: float, seed: int = 0) -> torch.Tensor:
    """(1, 3, H, W) random grey change drawn at 1/8 of the size and upsampled, in [0, 1] units."""
    generator = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 1, shape[0] // 8, shape[1] // 8, generator=generator) * 2 - 1
    big = F.interpolate(small, size=shape, mode="bilinear", align_corners=False)
    return (big * amplitude / 255).expand(1, 3, *shape)


def render(pixels: np.ndarray, change: torch.Tensor, scale: float) -> np.ndarray:
    levels = (change[0].permute(1, 2, 0) * 255 * scale).numpy()
    return np.clip(pixels + np.rint(levels), 0, 255).astype(np.uint8)


def test_strengths_are_ordered_by_what_a_person_sees():
    budgets = [BUDGETS[name].perceptual for name in STRENGTHS]
    assert [b.ssimulacra2_min for b in budgets] == sorted(b.ssimulacra2_min for b in budgets)[::-1]
    assert [b.eps for b in budgets] == sorted(b.eps for b in budgets)
    assert BUDGETS["invisible"].perceptual.lightness == 1.0  # grey: colour never moves


def test_texture_mask_favours_texture_and_spares_strong_edges():
    pixels = np.asarray(real_image(size=(160, 120))).copy()
    pixels[:, :40] = 128  # a flat band on the left
    mask = texture_mask(as_view(pixels))[0, 0]
    assert float(mask[:, :30].max()) == pytest.approx(0.1)  # flat: the floor
    assert float(mask[:, 60:].mean()) > 0.5
    # A strong edge in an otherwise busy texture: the share next to it falls.
    noise = np.random.default_rng(0).integers(20, 60, (64, 64, 3), dtype=np.uint8)
    noise[:, 32:] += 190
    edged = texture_mask(as_view(noise))[0, 0]
    at_edge, away = float(edged[8:56, 30:34].mean()), float(edged[8:56, 8:20].mean())
    assert at_edge <= EDGE_KEEP + 0.05 and away > 1.5 * at_edge


def test_room_is_one_at_the_floor_and_grows_with_the_gap():
    assert room_for(80.0, 80.0) == pytest.approx(1.0)
    assert room_for(90.0, 80.0) > 1 > room_for(70.0, 80.0)


def test_view_bound_scales_a_change_to_its_floor():
    view = as_view(np.asarray(real_image(size=(128, 96))))
    change = smooth_change((96, 128), 12.0)
    bound = ViewBound(view, 80.0, every=1)
    factor = bound(change)
    score = ssimulacra2(
        (view[0].permute(1, 2, 0) * 255).round().byte().numpy(),
        ((view + change * factor).clamp(0, 1)[0].permute(1, 2, 0) * 255).round().byte().numpy(),
    )
    assert abs(score - 80.0) < 4  # one step of the power law lands near the floor
    # Between measurements the last factor holds.
    every_other = ViewBound(view, 80.0, every=2)
    first = every_other(change)
    assert every_other(change * 0.1) == first


@pytest.mark.parametrize("floor", [85.0, 70.0])
def test_screen_fit_keeps_the_floor_close_to_it(floor):
    pixels = np.asarray(real_image(size=(320, 240)))
    change = smooth_change((240, 320), 10.0)
    fit = ScreenFit(pixels)
    scale = fit.fit(lambda s: render(pixels, change, s), floor, limit=10.0)
    score = fit.score(render(pixels, change, scale))
    assert floor <= score < floor + 3


def test_screen_fit_respects_the_caps_limit():
    pixels = np.asarray(real_image(size=(320, 240)))
    change = smooth_change((240, 320), 1.0)
    fit = ScreenFit(pixels)
    assert fit.fit(lambda s: render(pixels, change, s), 50.0, limit=0.5) == 0.5


def test_texture_share_matches_the_mask_of_a_view():
    pixels = np.asarray(real_image(size=(160, 120)))
    share = texture_share(pixels)
    assert share.shape == (120, 160) and share.dtype == np.float32
    assert np.allclose(texture_mask(as_view(pixels))[0, 0].numpy(), share, atol=1e-5)


def test_detail_gain_moves_a_change_off_flat_parts_and_keeps_its_mean():
    # A photo whose left half of every 16-pixel block is flat and right half busy: a view of
    # 16x fewer pixels sees each block as one pixel, half busy.
    rng = np.random.default_rng(0)
    pixels = np.full((256, 256, 3), 120, np.uint8)
    for left in range(0, 256, 16):
        pixels[:, left + 8 : left + 16] = rng.integers(60, 180, (256, 8, 3), dtype=np.uint8)
    gain = detail_gain(pixels, (16, 16))
    flat, busy = gain[:, 4::16].mean(), gain[:, 12::16].mean()
    assert busy > 1.3 > 0.7 > flat
    assert gain.max() <= DETAIL_MOST
    assert abs(float(gain[16:-16, 16:-16].mean()) - 1) < 0.15
