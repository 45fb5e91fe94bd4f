"""The public entry point: bytes in, protected bytes and the filters' reports out.

The proxy calls :class:`Protector` from one worker thread: ``load`` once at start-up, then
``protect`` and ``measure`` for each upload.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import replace

from filters.base import Chain, Filter, Filtered, FilterSettings, Toolkit
from filters.codecs import (
    ProtectionError,
    decode,
    encode,
    fit_to_size,
    frame_photos,
    lossy_quality,
    sent_pixels,
    with_frames,
)
from filters.codecs.photo import Photo
from filters.defaults import DEFAULT_FACES, DEFAULT_STRENGTH
from filters.measure import measure
from filters.record import Protected, ProtectionRecord
from filters.registry import FILTERS
from filters.shared.cpu import CpuShare
from filters.shared.surrogate import Surrogate

__all__ = ["Protector", "protect_frames"]


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


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def protect_frames(chain: Filter, photo: Photo, settings: FilterSettings) -> Filtered:
    """Run ``chain`` on each frame of an animation; the report is the first frame's, plus
    a count. Each frame is a still photo to the filters, so they need not know animations.

    Raises:
        ProtectionError: a frame failed (its index in the message).
    """
    results: list[Filtered] = []
    for index, frame in enumerate(frame_photos(photo)):
        try:
            results.append(chain.apply(frame, settings))
        except ProtectionError as exc:
            raise ProtectionError(f"frame {index + 1} of {len(photo.frames)}: {exc}") from exc
    report = dict(results[0].report)
    report["frames"] = {"count": len(results), "reports": [r.report for r in results[1:]]}
    return Filtered(with_frames(photo, [r.photo for r in results]), report)


class Protector:
    """Decodes, runs the chosen filters and encodes; measures the result on request.

    Args:
        surrogate: the classifier for attacks and labels; loaded on first need if None.
    """

    def __init__(self, surrogate: Surrogate | None = None) -> None:
        self._surrogate = surrogate
        self._filters: dict[str, Filter] = {}
        # Sized before each photo: a pool larger than the free cores is many times slower.
        self._cpu = CpuShare()

    @property
    def surrogate(self) -> Surrogate:
        if self._surrogate is None:
            self._surrogate = Surrogate.load()
            self._surrogate.warm_up()
        return self._surrogate

    def toolkit(self) -> Toolkit:
        """What the filters are built from: the surrogate and the codec's view of a photo."""
        return Toolkit(
            lambda: self.surrogate, written_pixels=sent_pixels, written_quality=lossy_quality
        )

    def load(self, filters: Sequence[str] = tuple(FILTERS)) -> None:
        """Build the named filters now, with the models they need, so requests don't wait.

        Raises:
            ProtectionError: an unknown filter name.
        """
        names = _names(filters)
        toolkit = self.toolkit()
        for name in names:
            if name not in self._filters:
                self._filters[name] = FILTERS[name].create(toolkit)

    def protect(
        self,
        data: bytes,
        filters: Sequence[str],
        strength: str = DEFAULT_STRENGTH,
        *,
        seed: int | None = None,
        profile: str = "none",
        exact_size: bool = False,
        faces: str = DEFAULT_FACES,
    ) -> Protected:
        """Protect one image file; the output keeps its format and dimensions.

        Animations (GIF, WebP, APNG) go through the filters frame by frame.

        Args:
            data: the file as uploaded.
            filters: filter names, applied in order.
            strength: one of ``STRENGTHS``.
            seed: makes random choices repeatable; default derived from the file's SHA-256.
            profile: the platform recompression the adversarial filters should survive.
            exact_size: the output must have exactly ``len(data)`` bytes, as when the
                upload protocol announced the size earlier (see ``filters.codecs.sizing``).
            faces: whose faces the face filters change (``WHOSE_FACES``).

        Raises:
            ProtectionError: undecodable or unsupported image, unknown filter, strength or faces,
                a filter that failed (the original exception as ``__cause__``), or an
                output that cannot be made to fit ``exact_size``.
        """
        started = time.perf_counter()
        self._cpu.fit_threads()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProtectionError(f"expected the image as bytes, got {type(data).__name__}")
        data = bytes(data)
        names = _names(filters)
        if seed is None:
            seed = int(hashlib.sha256(data).hexdigest()[:16], 16)
        settings = FilterSettings(strength, seed, profile, faces=faces)
        self.load(names)
        photo = decode(data)
        if not names:  # nothing to do keeps the file byte for byte
            return Protected(data, data, photo, photo, (), {}, profile, _since(started))
        chain = Chain([self._filters[name] for name in names])
        if photo.is_animated:
            result = protect_frames(chain, photo, settings)
        else:
            result = chain.apply(photo, settings)
        # What is really sent: a reader's decode of the output. The filter's own check has
        # usually decoded that file already; a smaller encoding made to fit a size has not.
        if exact_size:
            output, written = fit_to_size(result.photo, len(data))
        else:
            output, written = encode(result.photo), result.photo
        sent = replace(result.photo, pixels=sent_pixels(written))
        report, kept = result.report, tuple(names)
        return Protected(data, output, photo, sent, kept, report, profile, _since(started))

    def measure(self, protected: Protected) -> ProtectionRecord:
        """The record of a protected image: similarity, thumbnails, hashes, time, and the
        classifier's labels when a filter aimed at it."""
        aims = any(FILTERS[name].fools_classifier for name in protected.filters)
        return measure(protected, self.surrogate if aims else None)
