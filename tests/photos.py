"""Small real photos for tests, from the shared ImageNet sample, and helpers to encode them."""

from __future__ import annotations

import io

from PIL import Image

from tests.conftest import imagenet_photo

# Three photos of different kinds (animal, object, food) keep the attack tests honest.
PHOTOS = ("n01514859_hen", "n04509417_unicycle", "n07836838_chocolate_sauce")
SMALL = (320, 240)


def real_image(name: str = PHOTOS[0], size: tuple[int, int] = SMALL) -> Image.Image:
    """A real photo from the shared ImageNet sample, resized, as RGB."""
    with Image.open(imagenet_photo(name)) as image:
        return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
