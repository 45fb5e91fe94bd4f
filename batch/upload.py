"""What a platform does to a photo after upload, done for real: resize, then JPEG."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from filters.shared.platforms import PlatformProfile, get_profile

__all__ = ["simulate_upload"]


def simulate_upload(pixels: np.ndarray, profile: PlatformProfile | str) -> np.ndarray:
    """The (H', W', 3) uint8 photo a platform would serve after ``profile``'s resize and
    recompression of the (H, W, 3) uint8 ``pixels`` it was sent.

    >>> simulate_upload(np.zeros((3000, 1500, 3), np.uint8), "facebook").shape
    (2048, 1024, 3)
    """
    profile = get_profile(profile) if isinstance(profile, str) else profile
    image = Image.fromarray(pixels)
    size = profile.output_size(*image.size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    if profile.quality is None:
        return np.asarray(image)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=profile.quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
