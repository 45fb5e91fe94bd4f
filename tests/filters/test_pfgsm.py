"""filters/pfgsm.py: the label of the encoded photo changes within the strength's budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from filters import FilterSettings
from filters.codec import decode, encode
from filters.pfgsm import BUDGETS, Budget, PFGSMFilter, pfgsm, render_delta, resize_operator
from filters.surrogate import INPUT_SIZE, Surrogate
from tests.filters.conftest import PHOTOS, encoded, opened, real_image


@pytest.fixture(scope="module")
def attack(surrogate: Surrogate) -> PFGSMFilter:
    return PFGSMFilter(surrogate)


def levels(budget: Budget) -> int:
    return round(budget.eps * 255)


@pytest.mark.parametrize("name", PHOTOS)
def test_encoded_jpeg_label_changes_within_budget(attack, surrogate, name):
    photo = decode(encoded(real_image(name), "JPEG", quality=90))
    result = attack(photo, FilterSettings("medium", seed=7))
    out = encode(result.photo)
    image = opened(out)
    assert image.format == "JPEG" and image.size == (320, 240)
    change = np.abs(result.photo.pixels.astype(int) - photo.pixels.astype(int))
    assert 0 < change.max() <= levels(BUDGETS["medium"]) + 1
    before, after = surrogate.predict(photo.pixels), surrogate.predict(decode(out).pixels)
    assert after.index != before.index
    assert result.report["fooled"] and result.report["original_index"] == before.index
    assert after.index == result.report["target_index"]


@pytest.mark.parametrize("strength", ["low", "high"])
def test_lossless_output_keeps_the_budget_end_to_end(attack, surrogate, strength):
    data = encoded(real_image(PHOTOS[1]), "PNG")
    photo = decode(data)
    out = decode(encode(attack(photo, FilterSettings(strength, seed=3)).photo))
    change = np.abs(out.pixels.astype(int) - photo.pixels.astype(int)).max()
    assert 0 < change <= levels(BUDGETS[strength])
    assert surrogate.predict(out.pixels).index != surrogate.predict(photo.pixels).index


def test_same_seed_same_bytes(attack):
    photo = decode(encoded(real_image(PHOTOS[2]), "JPEG", quality=85))
    first = attack(photo, FilterSettings("medium", seed=11))
    second = attack(photo, FilterSettings("medium", seed=11))
    assert encode(first.photo) == encode(second.photo)
    assert first.report == second.report


def test_target_is_outside_the_likely_classes(attack, surrogate):
    photo = decode(encoded(real_image(PHOTOS[0]), "JPEG", quality=90))
    with torch.inference_mode():
        likely = surrogate.logits(surrogate.view(photo.pixels))[0].topk(10).indices.tolist()
    for seed in range(5):
        report = attack(photo, FilterSettings("low", seed=seed)).report
        assert report["target_index"] not in likely


def test_grey_photo_stays_grey(attack):
    photo = decode(encoded(real_image(PHOTOS[1]).convert("L"), "JPEG", quality=90))
    result = attack(photo, FilterSettings("medium", seed=5))
    pixels = result.photo.pixels
    assert np.array_equal(pixels[:, :, 0], pixels[:, :, 1])
    assert np.array_equal(pixels[:, :, 0], pixels[:, :, 2])
    assert opened(encode(result.photo)).mode == "L"


def test_alpha_is_untouched(attack):
    rgba = real_image(PHOTOS[2]).convert("RGBA")
    rgba.putalpha(200)
    photo = decode(encoded(rgba, "PNG"))
    result = attack(photo, FilterSettings("medium", seed=1))
    assert np.array_equal(result.photo.alpha, photo.alpha)
    assert not np.array_equal(result.photo.pixels, photo.pixels)


def test_render_delta_keeps_the_bound_and_size():
    pixels = np.asarray(real_image(size=(517, 389)))
    delta = (torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE) * 2 - 1) * 6 / 255
    out = render_delta(pixels, delta)
    assert out.shape == pixels.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - pixels.astype(int)).max() == 6


@pytest.mark.parametrize("full", [100, 240, 3000])
def test_resize_operator_matches_upsample_then_view(full):
    delta = torch.randn(1, 3, INPUT_SIZE, INPUT_SIZE)
    up = F.interpolate(delta, size=(full, full + 7), mode="bilinear", align_corners=False)
    seen = F.interpolate(up, size=(INPUT_SIZE,) * 2, mode="bilinear", antialias=True)
    rows, cols = resize_operator(INPUT_SIZE, full), resize_operator(INPUT_SIZE, full + 7)
    assert torch.allclose(rows @ delta @ cols.T, seen, atol=1e-4)


def test_pfgsm_respects_eps_and_reaches_a_linear_target():
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(5, 3 * 8 * 8, generator=generator)

    def logits(x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5).flatten(1) @ weights.T

    # Near mid-grey all logits are close, so eps = 8/255 can reach any class.
    images = 0.5 + 0.02 * torch.randn(1, 3, 8, 8, generator=generator)
    budget = Budget(eps=8 / 255, alpha=1 / 255, max_steps=50, margin=0.5)
    target = int(logits(images).argmin())
    delta, steps = pfgsm(logits, images, target, budget)
    assert float(delta.abs().max()) <= budget.eps + 1e-6
    assert int(logits((images + delta).clamp(0, 1)).argmax()) == target
    assert 0 < steps < budget.max_steps


def test_pfgsm_rejects_a_batch():
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        pfgsm(lambda x: x.mean((2, 3)), torch.zeros(2, 3, 8, 8), 0, BUDGETS["low"])
