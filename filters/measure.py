"""Measuring a protected image, apart from protecting it: labels, similarity, visibility,
thumbnails, hashes and time, as one :class:`~filters.record.ProtectionRecord`.

The proxy measures each upload for its audit once it has left, and ``veil protect`` each file
for its report; both call :func:`measure` after ``Protector.protect``.
"""

from __future__ import annotations

import hashlib

from filters.codecs.thumbnail import thumbnail
from filters.record import Protected, ProtectionRecord
from filters.shared.platforms import get_profile
from filters.shared.quality import ciede2000, psnr, ssim
from filters.shared.surrogate import Surrogate
from filters.shared.visibility import Visibility, screen_view

# The yardstick without a platform: JPEG at quality 85, as most platforms write.
YARDSTICK_QUALITY = 85

__all__ = ["measure"]


def measure(protected: Protected, surrogate: Surrogate | None) -> ProtectionRecord:
    """The record of one protected image.

    Args:
        protected: what ``Protector.protect`` returned.
        surrogate: the classifier whose top-1 labels the record shows; None leaves them out
            (no filter aimed at it: running it would only cost time).
    """
    original, sent = protected.original, protected.sent
    before = after = None
    if surrogate is not None:
        before, after = surrogate.predict(original.pixels), surrogate.predict(sent.pixels)
    quality = get_profile(protected.profile).quality or YARDSTICK_QUALITY
    # As a screen shows the photo, like the visibility measures: CIEDE2000 over every pixel
    # of a 12 MP photo took 1.5 s, more than the rest of the record.
    screen_before, screen_after = screen_view(original.pixels), screen_view(sent.pixels)
    seen = Visibility.on_screen(screen_before, screen_after, quality)
    return ProtectionRecord(
        sha256_before=hashlib.sha256(protected.source).hexdigest(),
        sha256_after=hashlib.sha256(protected.data).hexdigest(),
        size_before=len(protected.source),
        size_after=len(protected.data),
        width=original.width,
        height=original.height,
        metadata_removed=protected.metadata_removed,
        label_before=before.label if before else None,
        confidence_before=round(before.confidence, 4) if before else None,
        label_after=after.label if after else None,
        confidence_after=round(after.confidence, 4) if after else None,
        ssim=ssim(original.pixels, sent.pixels),
        psnr=psnr(original.pixels, sent.pixels),
        ciede2000=round(ciede2000(screen_before, screen_after), 4),
        ssimulacra2=seen.ssimulacra2,
        butteraugli=seen.butteraugli,
        platform_ssimulacra2=seen.platform_ssimulacra2,
        platform_butteraugli=seen.platform_butteraugli,
        visibility=seen.words,
        thumb_before=thumbnail(original),
        thumb_after=thumbnail(sent),
        elapsed_ms=protected.elapsed_ms,
    )
