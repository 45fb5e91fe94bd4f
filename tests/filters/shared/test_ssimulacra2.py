"""filters/shared/ssimulacra2.py against the PyPI ``ssimulacra2`` package, on real photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter
from ssimulacra2 import compute_ssimulacra2

from filters.shared.ssimulacra2 import Ssimulacra2, ssimulacra2
from tests.photos import PHOTOS, real_image


def distorted(image: Image.Image, kind: str) -> Image.Image:
    if kind.startswith("jpeg"):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(kind[4:]))
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if kind == "blur":
        return image.filter(ImageFilter.GaussianBlur(1.2))
    noise = np.random.default_rng(0).normal(0, 6, (*image.size[::-1], 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("kind", ["jpeg85", "jpeg40", "blur", "noise"])
def test_agrees_with_the_reference_package(tmp_path, name, kind):
    image = real_image(name, size=(333, 250))  # odd sizes: the pyramid's edge cases
    changed = distorted(image, kind)
    image.save(tmp_path / "a.png")
    changed.save(tmp_path / "b.png")
    reference = compute_ssimulacra2(str(tmp_path / "a.png"), str(tmp_path / "b.png"))
    a, b = np.asarray(image), np.asarray(changed)
    with torch.inference_mode():
        exact = float(Ssimulacra2(a, torch.float64)(b)[0])
    assert exact == pytest.approx(reference, abs=1e-6)
    assert ssimulacra2(a, b) == pytest.approx(reference, abs=0.05)  # float32


def test_identical_images_score_100_and_batches_match_singles():
    a = np.asarray(real_image(size=(200, 150)))
    assert ssimulacra2(a, a) == 100.0
    b, c = np.asarray(distorted(real_image(size=(200, 150)), "jpeg40")), a[::-1].copy()
    # In float64, where a batch's other reduction order cannot hide a mix-up in float32's
    # rounding (up to 2.7e-3 apart on these photos).
    score = Ssimulacra2(a, torch.float64)
    batch = torch.from_numpy(np.stack([b, c])).permute(0, 3, 1, 2).double() / 255
    with torch.inference_mode():
        together = score(batch)
        singles = [score(x)[0].item() for x in (b, c)]
    assert together[0].item() == pytest.approx(singles[0], abs=1e-6)
    assert together[1].item() == pytest.approx(singles[1], abs=1e-6)
    assert singles[0] == pytest.approx(ssimulacra2(a, b), abs=0.05)  # float32, as used


def test_it_has_a_gradient_that_attacks_can_follow():
    a = torch.from_numpy(np.asarray(real_image(size=(96, 64))).copy()).permute(2, 0, 1)[None]
    a = a.double() / 255
    change = torch.zeros_like(a, requires_grad=True)
    score = Ssimulacra2(a, torch.float64)((a + change).clamp(0, 1))
    score.sum().backward()
    assert torch.isfinite(change.grad).all()  # finite even at no change
    noise = (torch.rand_like(a) - 0.5) * 0.1
    changed = (noise * 0).requires_grad_(True)
    lower = Ssimulacra2(a, torch.float64)((a + noise + changed).clamp(0, 1))
    lower.sum().backward()
    with torch.no_grad():
        stepped = Ssimulacra2(a, torch.float64)(
            (a + noise + 1e-3 * changed.grad.sign()).clamp(0, 1)
        )
    assert float(stepped) > float(lower.detach())  # following the gradient raises the score


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="shape"):
        ssimulacra2(np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        Ssimulacra2(np.zeros((8, 8), np.uint8))
