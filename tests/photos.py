"""Small real photos for tests, and helpers to encode them.

The suite's own photos live in tests/data (public domain or CC0, see tests/data/SOURCES.md).
A name like ``n01440764_tench`` is a photo of the ImageNet sample in ../shared/data instead:
a test that reads one skips without that sample (fails under ``CI=true``).
"""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image

from tests.conftest import imagenet_photo, photo_path, shared_data

# Three photos of different kinds (animal, person, drink), each one the surrogate classifies
# right and confidently (Egyptian cat, military uniform, espresso), keep the attack tests
# honest.
PHOTOS = ("chelsea", "grace_hopper", "coffee")
SMALL = (320, 240)
IMAGENET_NAME = re.compile(r"n\d{8}_\w+")


def real_image(name: str = PHOTOS[0], size: tuple[int, int] = SMALL) -> Image.Image:
    """A real photo, resized, as RGB: one of tests/data, or of the ImageNet sample by its
    file name (``n01440764_tench``)."""
    path = imagenet_photo(name) if IMAGENET_NAME.fullmatch(name) else photo_path(name)
    with Image.open(path) as image:
        return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def face_photo(name: str, edge: int = 320) -> np.ndarray:
    """A photo of people, long edge ``edge`` pixels: one of tests/data (``grace_hopper``), or
    of the shared faces set by its path there (``groups/two_people.jpg``), which the test
    then needs."""
    path = shared_data("faces") / name if "/" in name else photo_path(name)
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        return np.asarray(image)


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
