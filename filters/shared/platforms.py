"""What platforms do to a photo after upload: the profiles filters are made to survive.

REFERENCE.md section 3: Facebook caps the long edge near 2048 px and recompresses at about
JPEG 85; Instagram shows 1080 px at about JPEG 70. The filters use these numbers for their
differentiable version of the platform; the benchmark tools for a real one.
"""

from __future__ import annotations

from dataclasses import dataclass

from filters.codecs.errors import ProtectionError

__all__ = ["PLATFORM_PROFILES", "PROFILES", "PlatformProfile", "get_profile"]


@dataclass(frozen=True)
class PlatformProfile:
    """A platform's resize and recompression.

    Attributes:
        name: the profile's name in policies and on the command line.
        long_edge: photos larger than this are downscaled to it; None keeps the size.
        quality: the JPEG quality it typically re-encodes at; None means no recompression.
        quality_range: the qualities seen in practice, for randomised training.
    """

    name: str
    long_edge: int | None
    quality: int | None
    quality_range: tuple[int, int] | None

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The size the platform shows a ``width`` x ``height`` photo at."""
        if self.long_edge is None or max(width, height) <= self.long_edge:
            return width, height
        scale = self.long_edge / max(width, height)
        return max(1, round(width * scale)), max(1, round(height * scale))


PLATFORM_PROFILES: dict[str, PlatformProfile] = {
    "none": PlatformProfile("none", None, None, None),
    "facebook": PlatformProfile("facebook", 2048, 85, (80, 90)),
    "instagram": PlatformProfile("instagram", 1080, 70, (65, 75)),
}
PROFILES: tuple[str, ...] = tuple(PLATFORM_PROFILES)


def get_profile(name: str) -> PlatformProfile:
    """The profile called ``name``; ProtectionError names the known ones otherwise."""
    try:
        return PLATFORM_PROFILES[name]
    except KeyError:
        known = ", ".join(PLATFORM_PROFILES)
        raise ProtectionError(f"unknown platform profile {name!r}; choose one of {known}") from None
