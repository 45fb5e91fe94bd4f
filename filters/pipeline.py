"""The public entry point: bytes in, protected bytes and an audit report out.

The proxy calls :class:`Protector` from one worker thread: ``load`` once at start-up,
then ``protect`` for each upload.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from filters.animation import protect_frames
from filters.base import Chain, Filter, FilterSettings
from filters.codec import decode, encode, sent_pixels, thumbnail
from filters.errors import ProtectionError
from filters.quality import psnr, ssim
from filters.registry import FILTERS
from filters.sizing import encode_to_size
from filters.surrogate import Surrogate

__all__ = ["ProtectionResult", "Protector"]

_BINARY_FIELDS = ("data", "thumb_before", "thumb_after")


@dataclass
class ProtectionResult:
    """The protected file and what the audit view shows about it.

    Labels are the surrogate's top-1 on the input and on the encoded output; ``ssim`` and
    ``psnr`` compare input and output pixels (None when undefined: tiny or unchanged).
    """

    data: bytes
    format: str
    width: int
    height: int
    size_before: int
    size_after: int
    sha256_before: str
    sha256_after: str
    filters_applied: list[str]
    metadata_removed: list[str]
    label_before: str
    confidence_before: float
    label_after: str
    confidence_after: float
    ssim: float | None
    psnr: float | None
    elapsed_ms: float
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    thumb_before: bytes = b""
    thumb_after: bytes = b""

    def to_dict(self) -> dict[str, Any]:
        """Every field but the file and the thumbnails; JSON-serialisable."""
        values = asdict(self)
        for name in _BINARY_FIELDS:
            values.pop(name)
        return values


def _names(filters: Sequence[str] | str) -> list[str]:
    """Validate filter names; a repeated name runs once."""
    if isinstance(filters, str):
        filters = [filters]
    try:
        names = list(dict.fromkeys(filters))
    except TypeError as exc:
        raise ProtectionError(f"filters must be a list of names, got {filters!r}") from exc
    unknown = [name for name in names if name not in FILTERS]
    if unknown:
        raise ProtectionError(
            f"unknown filter {', '.join(map(repr, unknown))}; known: {', '.join(FILTERS)}"
        )
    return names


class Protector:
    """Decodes, runs the chosen filters, encodes, and measures the result.

    Args:
        surrogate: the classifier for attacks and labels; loaded on first need if None.
    """

    def __init__(self, surrogate: Surrogate | None = None) -> None:
        self._surrogate = surrogate
        self._filters: dict[str, Filter] = {}

    @property
    def surrogate(self) -> Surrogate:
        if self._surrogate is None:
            self._surrogate = Surrogate.load()
            self._surrogate.warm_up()
        return self._surrogate

    def load(self, filters: Sequence[str] = tuple(FILTERS)) -> None:
        """Load the surrogate and build the named filters now, so requests don't wait.

        Raises:
            ProtectionError: an unknown filter name.
        """
        surrogate = self.surrogate  # the report's labels need it even with no filter
        for name in _names(filters):
            if name not in self._filters:
                self._filters[name] = FILTERS[name].create(surrogate)

    def protect(
        self,
        data: bytes,
        filters: Sequence[str],
        strength: str = "medium",
        *,
        seed: int | None = None,
        profile: str = "none",
        exact_size: bool = False,
    ) -> ProtectionResult:
        """Protect one image file; the output keeps its format and dimensions.

        Animations (GIF, WebP, APNG) go through the filters frame by frame.

        Args:
            data: the file as uploaded.
            filters: filter names, applied in order.
            strength: one of ``STRENGTHS``.
            seed: makes random choices repeatable; default derived from the file's SHA-256.
            profile: the platform recompression the adversarial filters should survive.
            exact_size: the output must have exactly ``len(data)`` bytes, as when the
                upload protocol announced the size earlier (see ``filters.sizing``).

        Raises:
            ProtectionError: undecodable or unsupported image, unknown filter or strength,
                a filter that failed (the original exception as ``__cause__``), or an
                output that cannot be made to fit ``exact_size``.
        """
        start = time.perf_counter()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProtectionError(f"expected the image as bytes, got {type(data).__name__}")
        data = bytes(data)
        names = _names(filters)
        sha_before = hashlib.sha256(data).hexdigest()
        settings = FilterSettings(
            strength, int(sha_before[:16], 16) if seed is None else seed, profile
        )
        self.load(names)
        photo = decode(data)
        before = self.surrogate.predict(photo.pixels)
        chain = Chain([self._filters[name] for name in names])
        if photo.is_animated:
            result = protect_frames(chain, photo, settings)
        else:
            result = chain.apply(photo, settings)
        # Nothing to do keeps the file byte for byte; otherwise measure what is really sent.
        if not names:
            output = data
        elif exact_size:
            output = encode_to_size(result.photo, len(data))
        else:
            output = encode(result.photo)
        if not names:
            sent = photo
        elif exact_size:
            sent = decode(output)
        else:  # what a reader decodes from ``output``; the filter's own check often has it
            sent = replace(result.photo, pixels=sent_pixels(result.photo))
        after = self.surrogate.predict(sent.pixels)
        removed = [n for report in result.report.values() for n in report.get("removed", ())]
        thumbs = thumbnail(photo), thumbnail(sent)
        similarity, noise = ssim(photo.pixels, sent.pixels), psnr(photo.pixels, sent.pixels)
        return ProtectionResult(
            data=output,
            format=photo.format,
            width=photo.width,
            height=photo.height,
            size_before=len(data),
            size_after=len(output),
            sha256_before=sha_before,
            sha256_after=hashlib.sha256(output).hexdigest(),
            filters_applied=names,
            metadata_removed=removed,
            label_before=before.label,
            confidence_before=round(before.confidence, 4),
            label_after=after.label,
            confidence_after=round(after.confidence, 4),
            ssim=similarity,
            psnr=noise,
            elapsed_ms=round((time.perf_counter() - start) * 1000, 1),
            details=result.report,
            notes=list(photo.notes),
            thumb_before=thumbs[0],
            thumb_after=thumbs[1],
        )
