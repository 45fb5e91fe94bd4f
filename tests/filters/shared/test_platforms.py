"""filters/shared/platforms.py: the profiles filters are made to survive."""

import pytest

from filters import ProtectionError
from filters.shared.platforms import PLATFORM_PROFILES, PROFILES, get_profile


def test_profiles_output_sizes() -> None:
    assert PLATFORM_PROFILES["facebook"].output_size(3000, 2000) == (2048, 1365)
    assert PLATFORM_PROFILES["instagram"].output_size(3000, 2000) == (1080, 720)
    assert PLATFORM_PROFILES["instagram"].output_size(320, 240) == (320, 240)
    assert PLATFORM_PROFILES["none"].output_size(9000, 10) == (9000, 10)


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ProtectionError, match="facebook"):
        get_profile("myspace")
    assert set(PLATFORM_PROFILES) >= {"none", "facebook", "instagram"}
    assert tuple(PLATFORM_PROFILES) == PROFILES
