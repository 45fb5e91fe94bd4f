"""batch/judge.py: the held-out MobileNetV2 reads real photos as torchvision does."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import batch.judge
from batch.judge import CROP, judge_view
from tests.conftest import imagenet_labels, imagenet_photo

NAMES = ("n01514859_hen", "n04509417_unicycle", "n07836838_chocolate_sauce", "n02690373_airliner")


def photo(name: str) -> np.ndarray:
    with Image.open(imagenet_photo(name)) as image:
        return np.asarray(image.convert("RGB"))


def test_judge_knows_real_photos(judge):
    labels = imagenet_labels()
    for name in NAMES:
        truth = labels[f"{name}.JPEG"]
        top5 = judge.topk(photo(name), 5)
        assert truth in top5 and len(set(top5)) == 5
        prediction = judge.predict(photo(name))
        assert prediction.index == top5[0]
        assert prediction.label == judge.categories[prediction.index]
        assert 0 < prediction.confidence <= 1


def test_noise_is_not_a_hen(judge):
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert judge.predict(noise).index != imagenet_labels()[f"{NAMES[0]}.JPEG"]


def test_view_is_the_centre_crop_of_the_short_side_resize():
    pixels = np.zeros((256, 512, 3), np.uint8)
    pixels[:, 144:368] = 255  # exactly the central 224 columns after the (no-op) resize
    view = judge_view(pixels)
    assert view.shape == (1, 3, CROP, CROP)
    assert float(view.min()) == 1.0


def test_bad_input_is_a_value_error(judge):
    with pytest.raises(ValueError, match="uint8"):
        judge.predict(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="k must be"):
        judge.topk(photo(NAMES[0]), 0)


def test_no_filter_uses_the_judge():
    # The judge is held out: the filters that make perturbations must never import it.
    from pathlib import Path

    source = Path(batch.judge.__file__).parent
    users = [p.name for p in source.glob("*.py") if "filters.judge" in p.read_text()]
    assert users == []
