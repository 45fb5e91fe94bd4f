import io

import pytest
from PIL import Image

from filters import ProtectionError
from filters.platforms import PLATFORM_PROFILES, get_profile, simulate_upload
from tests.conftest import jpeg_with_private_metadata


def test_profiles_resize_and_recompress(hen_path) -> None:
    data = jpeg_with_private_metadata(hen_path, size=(3000, 2000))
    facebook = simulate_upload(data, "facebook")
    instagram = simulate_upload(data, "instagram")
    assert facebook.size == (2048, 1365)
    assert instagram.size == (1080, 720)
    original = Image.open(io.BytesIO(data)).convert("RGB")
    assert simulate_upload(data, "none").tobytes() == original.tobytes()


def test_small_photos_keep_their_size(private_jpeg) -> None:
    assert simulate_upload(private_jpeg, "instagram").size == (320, 240)


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ProtectionError, match="facebook"):
        get_profile("myspace")
    assert set(PLATFORM_PROFILES) >= {"none", "facebook", "instagram"}
