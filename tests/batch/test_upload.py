"""batch/upload.py: the platforms' resize and recompression, done for real."""

import numpy as np
from PIL import Image

from batch.upload import simulate_upload
from tests.conftest import jpeg_with_private_metadata


def pixels(data: bytes) -> np.ndarray:
    import io

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_profiles_resize_and_recompress(photo_file) -> None:
    original = pixels(jpeg_with_private_metadata(photo_file, size=(3000, 2000)))
    facebook = simulate_upload(original, "facebook")
    instagram = simulate_upload(original, "instagram")
    assert facebook.shape == (1365, 2048, 3)
    assert instagram.shape == (720, 1080, 3)
    assert np.array_equal(simulate_upload(original, "none"), original)
    # Recompressed: not the same pixels as a plain resize.
    resized = np.asarray(Image.fromarray(original).resize((2048, 1365), Image.Resampling.LANCZOS))
    assert not np.array_equal(facebook, resized)


def test_small_photos_keep_their_size(private_jpeg) -> None:
    assert simulate_upload(pixels(private_jpeg), "instagram").shape == (240, 320, 3)
