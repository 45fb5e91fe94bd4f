"""What every filter is: ``Photo`` + settings in, protected ``Photo`` + a report out.

A chain of filters is itself a filter. Filters know nothing of HTTP or files: what they need
of the codec (the pixels a file as written decodes to) comes in a :class:`Toolkit`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from filters.codecs.errors import ProtectionError
from filters.codecs.photo import Photo
from filters.defaults import DEFAULT_FACES, DEFAULT_STRENGTH, WHOSE_FACES
from filters.shared.platforms import get_profile
from filters.shared.strengths import STRENGTHS, canonical_strength

if TYPE_CHECKING:
    from filters.shared.surrogate import Surrogate

__all__ = ["Chain", "Filter", "FilterSettings", "Filtered", "Toolkit"]


@dataclass(frozen=True)
class FilterSettings:
    """How hard to protect, and the seed that makes a run repeatable.

    An old strength name (``low``, ``medium``, ``high``) is taken as its new one.

    Raises:
        ProtectionError: ``strength`` is not one of :data:`STRENGTHS`, ``profile`` not a
            platform profile, a private label not an ImageNet class index, or ``faces`` not
            one of :data:`WHOSE_FACES`.
    """

    strength: str = DEFAULT_STRENGTH
    seed: int | None = None
    # The platform recompression to survive ("none", "facebook", "instagram").
    profile: str = "none"
    # ImageNet classes the user marks private: a filter never makes the photo look like them.
    private_labels: tuple[int, ...] = ()
    # Whose faces the face filters change (WHOSE_FACES): all, bystanders, none.
    faces: str = DEFAULT_FACES
    # The photo as it came, before any filter of a chain: the filters that keep an
    # SSIMULACRA2 floor measure against it, so that a chain keeps one budget for the whole
    # photo, not one per filter. Set by Chain; None: the photo a filter is given.
    original: np.ndarray | None = field(default=None, compare=False, repr=False)

    def seed_for(self, pixels: np.ndarray) -> int:
        """The seed, or one drawn from the pixels: the same photo gets the same change."""
        if self.seed is not None:
            return self.seed
        return int.from_bytes(hashlib.sha256(pixels.tobytes()).digest()[:8], "big")

    def reference(self, pixels: np.ndarray) -> np.ndarray:
        """What a change to ``pixels`` is measured against: the chain's original photo."""
        original = self.original
        return pixels if original is None or original.shape != pixels.shape else original

    def __post_init__(self) -> None:
        object.__setattr__(self, "strength", canonical_strength(self.strength))  # old names
        if self.strength not in STRENGTHS:
            raise ProtectionError(
                f"unknown strength {self.strength!r}; choose one of {', '.join(STRENGTHS)}"
            )
        get_profile(self.profile)
        labels = self.private_labels
        if not isinstance(labels, tuple) or not all(
            isinstance(c, int) and 0 <= c < 1000 for c in labels
        ):
            raise ProtectionError(f"private labels must be ImageNet indices 0..999, got {labels!r}")
        if self.faces not in WHOSE_FACES:
            raise ProtectionError(
                f"whose faces must be one of {', '.join(WHOSE_FACES)}, not {self.faces!r}"
            )


@dataclass(frozen=True)
class Filtered:
    """A filter's output: the new photo and a JSON-friendly report of what it did."""

    photo: Photo
    report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Toolkit:
    """What filters are built from: the shared classifier, and the codec's view of a photo.

    Attributes:
        load_surrogate: gives the ImageNet classifier the attacks and the labels use,
            loading it on the first call (``surrogate`` calls it).
        written_pixels: the (H, W, 3) uint8 pixels a reader decodes from the photo's file
            as it will be written (lossy formats change them, palettes quantise them).
        written_quality: about the lossy quality (1-100) the photo's file is written at;
            None when it is written losslessly.
    """

    load_surrogate: Callable[[], Surrogate]
    written_pixels: Callable[[Photo], np.ndarray]
    written_quality: Callable[[Photo], int | None]

    @property
    def surrogate(self) -> Surrogate:
        """The classifier, loaded when a filter that needs it is built: never for metadata."""
        return self.load_surrogate()


class Filter(ABC):
    """One protection step. Subclasses set ``name`` and ``description`` and implement apply."""

    name: ClassVar[str]
    description: ClassVar[str]
    # A change meant to be seen (redaction) is not spent from the strength's budget: the
    # filters after it in a chain measure against the photo as it left it.
    meant_to_be_seen: ClassVar[bool] = False
    # Aims at the scene classifier: the audit then shows its labels before and after. For
    # the others (metadata, faces) the classifier is neither loaded nor run for the record.
    fools_classifier: ClassVar[bool] = False

    @classmethod
    def create(cls, toolkit: Toolkit) -> Filter:
        """Build the filter from shared resources; filters without a model ignore them."""
        return cls()

    @abstractmethod
    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        """Protect ``photo``; never change it in place."""

    def __call__(self, photo: Photo, settings: FilterSettings | None = None) -> Filtered:
        return self.apply(photo, settings or FilterSettings())


class Chain(Filter):
    """Run filters one after another; the report holds each filter's report by name."""

    name = "chain"
    description = "Several filters in order."

    def __init__(self, filters: Sequence[Filter]) -> None:
        self.filters = tuple(filters)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.filters]

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        reports: dict[str, Any] = {}
        if settings.original is None:  # every step measures against the photo as it came
            settings = replace(settings, original=photo.pixels)
        for step in self.filters:
            try:
                result = step.apply(photo, settings)
            except ProtectionError:
                raise
            except Exception as exc:  # a filter bug must reach the caller as a readable error
                raise ProtectionError(f"the {step.name} filter failed: {exc}") from exc
            photo, reports[step.name] = result.photo, result.report
            if step.meant_to_be_seen:
                settings = replace(settings, original=photo.pixels)
        return Filtered(photo, reports)
