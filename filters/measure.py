"""Measuring a protected image, apart from protecting it: labels, similarity, thumbnails,
hashes and time, as one :class:`~filters.record.ProtectionRecord`.

The proxy measures each upload for its audit and ``veil protect`` each file for its report;
both call :func:`measure` after ``Protector.protect``.
"""

from __future__ import annotations

import hashlib
import time

from filters.codecs.thumbnail import thumbnail
from filters.record import Protected, ProtectionRecord
from filters.shared.quality import psnr, ssim
from filters.shared.surrogate import Surrogate

__all__ = ["measure"]


def measure(protected: Protected, surrogate: Surrogate) -> ProtectionRecord:
    """The record of one protected image.

    Args:
        protected: what ``Protector.protect`` returned.
        surrogate: the classifier whose top-1 labels the record shows.
    """
    original, sent = protected.original, protected.sent
    before, after = surrogate.predict(original.pixels), surrogate.predict(sent.pixels)
    return ProtectionRecord(
        sha256_before=hashlib.sha256(protected.source).hexdigest(),
        sha256_after=hashlib.sha256(protected.data).hexdigest(),
        size_before=len(protected.source),
        size_after=len(protected.data),
        width=original.width,
        height=original.height,
        metadata_removed=protected.metadata_removed,
        label_before=before.label,
        confidence_before=round(before.confidence, 4),
        label_after=after.label,
        confidence_after=round(after.confidence, 4),
        ssim=ssim(original.pixels, sent.pixels),
        psnr=psnr(original.pixels, sent.pixels),
        thumb_before=thumbnail(original),
        thumb_after=thumbnail(sent),
        elapsed_ms=round((time.perf_counter() - protected.started) * 1000, 1),
    )
