"""filters/pfgsm.py: the encoded photo fools the surrogate, within the strength's budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from filters import FilterSettings, ProtectionError
from filters.base import Toolkit
from filters.codecs import decode, encode
from filters.pfgsm import PFGSMFilter
from filters.shared.ssimulacra2 import ssimulacra2
from filters.shared.strengths import BUDGETS
from filters.shared.surrogate import INPUT_SIZE, Ensemble, Surrogate
from filters.shared.transfer import AttackConfig, choose_target, transfer_attack
from filters.shared.visibility import screen_view
from tests.photos import PHOTOS, encoded, opened, real_image

# Few steps keep the suite fast; the benchmark runs the default configuration.
QUICK = AttackConfig(steps=4, samples=1)


@pytest.fixture(scope="module")
def attack(toolkit: Toolkit) -> PFGSMFilter:
    return PFGSMFilter(toolkit, Ensemble([toolkit.surrogate]), QUICK)


def within_budget(before: np.ndarray, after: np.ndarray, strength: str) -> bool:
    """The written file keeps the strength's SSIMULACRA2 floor, on screen as the filter saw it."""
    return (
        ssimulacra2(screen_view(before), screen_view(after))
        >= BUDGETS[strength].perceptual.ssimulacra2_min - 0.01
    )


@pytest.mark.parametrize("name", PHOTOS)
def test_encoded_jpeg_fools_the_surrogate_within_budget(attack, surrogate, name):
    photo = decode(encoded(real_image(name), "JPEG", quality=90))
    result = attack(photo, FilterSettings("strong", seed=7, profile="facebook"))
    out = encode(result.photo)
    image = opened(out)
    assert image.format == "JPEG" and image.size == (320, 240)
    sent = decode(out).pixels
    assert not np.array_equal(sent, photo.pixels)
    assert within_budget(photo.pixels, sent, "strong")
    assert result.report["ssimulacra2"] >= BUDGETS["strong"].perceptual.ssimulacra2_min
    before, after = surrogate.predict(photo.pixels), surrogate.predict(sent)
    assert after.index != before.index
    assert result.report["fooled"] and result.report["original_index"] == before.index
    assert result.report["profile"] == "facebook"


def test_small_coarse_jpeg_is_fooled_as_written(attack, surrogate):
    # Written back at quality 60, as it came: a change made without that encoding in view
    # mostly vanishes in it.
    photo = decode(encoded(real_image(PHOTOS[0], size=(160, 120)), "JPEG", quality=60))
    settings = FilterSettings("strong", seed=5, profile="facebook")
    transform = attack._attack(photo, settings, 5).transform
    # Its own encoding is in the attack's loop, with 8x8 blocks at the photo's scale.
    assert transform.own_quality == 60 and transform.jpeg_scale == 120 / 256
    result = attack(photo, settings)
    sent = decode(encode(result.photo)).pixels
    assert result.report["fooled"]
    assert surrogate.predict(sent).index != surrogate.predict(photo.pixels).index
    assert within_budget(photo.pixels, sent, "strong")
    fine = decode(encoded(real_image(PHOTOS[0], size=(160, 120)), "JPEG", quality=95))
    assert attack._attack(fine, settings, 5).transform.own_quality is None  # keeps nearly all


@pytest.mark.parametrize("strength", ["invisible", "subtle", "strong"])
def test_lossless_output_keeps_the_budget_end_to_end(attack, strength):
    photo = decode(encoded(real_image(PHOTOS[1]), "PNG"))
    out = decode(encode(attack(photo, FilterSettings(strength, seed=3)).photo))
    assert out.format == "PNG" and out.pixels.shape == photo.pixels.shape
    assert within_budget(photo.pixels, out.pixels, strength)
    change = np.abs(out.pixels.astype(int) - photo.pixels.astype(int)).max()
    assert 0 < change <= round(BUDGETS[strength].perceptual.eps * 255)


def colour_and_lightness(toolkit: Toolkit, lightness: float) -> tuple[float, float]:
    """Mean |change| apart from and common to R, G, B, from an attack with ``lightness``."""
    attack = PFGSMFilter(
        toolkit, Ensemble([toolkit.surrogate]), replace(QUICK, lightness=lightness)
    )
    photo = decode(encoded(real_image(PHOTOS[1]), "PNG"))
    out = decode(encode(attack(photo, FilterSettings("strong", seed=3)).photo))
    change = out.pixels.astype(int) - photo.pixels.astype(int)
    # Only where no channel was clipped at 0 or 255.
    change = change[((out.pixels > 0) & (out.pixels < 255)).all(axis=-1)]
    common = change.mean(axis=-1, keepdims=True)
    return float(np.abs(change - common).mean()), float(np.abs(common).mean())


def test_the_change_is_mostly_lightness(toolkit):
    colour, light = colour_and_lightness(toolkit, 1.0)
    assert colour == 0 and light > 0  # grey: the same change on R, G and B
    colour, light = colour_and_lightness(toolkit, QUICK.lightness)
    assert 0 < colour < light
    colour, light = colour_and_lightness(toolkit, 0.0)
    assert colour > light


def test_same_seed_same_bytes(attack):
    photo = decode(encoded(real_image(PHOTOS[2]), "JPEG", quality=85))
    settings = FilterSettings("subtle", seed=11, profile="instagram")
    first, second = attack(photo, settings), attack(photo, settings)
    assert encode(first.photo) == encode(second.photo)
    assert first.report == second.report


def test_target_is_outside_the_likely_and_the_private_classes(attack, surrogate):
    photo = decode(encoded(real_image(PHOTOS[0]), "JPEG", quality=90))
    with torch.inference_mode():
        logits = surrogate.logits(surrogate.view(photo.pixels))
    likely = logits[0].topk(QUICK.likely).indices.tolist()
    private = tuple(choose_target(logits, seed, QUICK.likely)[1] for seed in range(3))
    for seed in range(3):
        top, target = choose_target(logits, seed, QUICK.likely, private)
        assert top == likely and target not in likely and target not in private
    settings = FilterSettings("low", seed=0, private_labels=private)
    assert attack(photo, settings).report["target_index"] not in (*likely, *private)


def test_private_labels_are_checked():
    with pytest.raises(ProtectionError, match="private labels"):
        FilterSettings(private_labels=(1000,))
    with pytest.raises(ProtectionError, match="private labels"):
        FilterSettings(private_labels=[3])  # type: ignore[arg-type]


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


def test_transfer_attack_keeps_the_bound_and_moves_a_linear_model():
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(6, 3 * 8 * 8, generator=generator)

    def logits(x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5).flatten(1) @ weights.T

    images = 0.5 + 0.02 * torch.randn(1, 3, 8, 8, generator=generator)
    bound = torch.full((1, 1, 8, 8), 8 / 255)
    bound[..., :4] = 2 / 255  # a tighter budget on the left half
    likely, target = choose_target(logits(images), 0, 2)
    config = AttackConfig(steps=8, samples=2, smoothing=0.0)
    delta = transfer_attack([logits], images, target, likely, bound, config, lambda v: v)
    assert bool((delta.abs() <= bound + 1e-7).all())
    after = logits((images + delta).clamp(0, 1))
    assert int(after.argmax()) == target and int(after.argmax()) not in likely
    with pytest.raises(ValueError, match=r"\(1, 3, H, W\)"):
        transfer_attack([logits], images.expand(2, -1, -1, -1), 0, [1], bound, config, abs)


@pytest.mark.slow
def test_skip_gradient_keeps_the_logits_and_changes_the_gradient():
    plain, skipping = Surrogate.load("lite0"), Surrogate.load("lite0", skip_gradient=0.5)
    images = torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE, generator=torch.Generator().manual_seed(0))
    grads = []
    for model in (plain, skipping):
        x = images.clone().requires_grad_(True)
        logits = model.logits(x)
        (grad,) = torch.autograd.grad(logits[0, 3], x)
        grads.append((logits.detach(), grad))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
    cosine = torch.nn.functional.cosine_similarity(grads[0][1].flatten(), grads[1][1].flatten(), 0)
    assert 0 < float(cosine) < 0.99


def test_the_invisible_strength_changes_lightness_only_where_texture_hides_it(toolkit):
    """With the strength's own attack (no test settings): grey, and flat areas left alone."""
    pixels = np.asarray(real_image(PHOTOS[0])).copy()
    pixels[:, :100] = (118, 140, 160)  # a flat band, like clear sky
    photo = decode(encoded(Image.fromarray(pixels), "PNG"))
    out = decode(encode(PFGSMFilter(toolkit)(photo, FilterSettings("invisible", seed=2)).photo))
    change = out.pixels.astype(int) - photo.pixels.astype(int)
    assert np.abs(change).max() > 0
    unclipped = ((out.pixels > 0) & (out.pixels < 255)).all(axis=-1)
    assert (change == change[..., :1])[unclipped].all()  # the same on R, G and B
    cap = round(BUDGETS["invisible"].perceptual.eps * 255)
    assert np.abs(change).max() <= cap
    # The flat band keeps at most a tenth of the cap (away from its edge with the photo).
    assert np.abs(change[:, :90]).max() <= max(1, round(cap * 0.1) + 1)
    assert within_budget(photo.pixels, out.pixels, "invisible")
