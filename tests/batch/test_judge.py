"""batch/judge.py: the held-out MobileNetV2 reads real photos as torchvision does."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import batch.judge
from batch.judge import CROP, judge_view
from tests.conftest import TEST_DATA, imagenet_labels, imagenet_photo, photo_labels

# The suite's own labelled photos (tests/data/labels.csv), then a few of the ImageNet sample.
NAMES = tuple(photo_labels())
IMAGENET_NAMES = ("n01514859_hen", "n04509417_unicycle", "n02690373_airliner")


def photo(file: str) -> np.ndarray:
    with Image.open(TEST_DATA / file) as image:
        return np.asarray(image.convert("RGB"))


def test_judge_knows_real_photos(judge):
    labels = photo_labels()
    for name in NAMES:
        truth = labels[name]
        top5 = judge.topk(photo(name), 5)
        assert truth in top5 and len(set(top5)) == 5
        prediction = judge.predict(photo(name))
        assert prediction.index == top5[0]
        assert prediction.label == judge.categories[prediction.index]
        assert 0 < prediction.confidence <= 1


@pytest.mark.shared_data("imagenet-sample")
def test_judge_knows_imagenet_photos(judge):
    labels = imagenet_labels()
    for name in IMAGENET_NAMES:
        with Image.open(imagenet_photo(name)) as image:
            assert labels[f"{name}.JPEG"] in judge.topk(np.asarray(image.convert("RGB")), 5)


def test_noise_is_not_a_cat(judge):
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert judge.predict(noise).index != photo_labels()[NAMES[0]]


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
