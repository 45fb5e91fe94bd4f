"""What every filter is: ``Photo`` + settings in, protected ``Photo`` + a report out.

A chain of filters is itself a filter. Filters know nothing of HTTP or files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from filters.errors import ProtectionError
from filters.photo import Photo

if TYPE_CHECKING:
    from filters.surrogate import Surrogate

__all__ = ["STRENGTHS", "Chain", "Filter", "FilterSettings", "Filtered"]

STRENGTHS = ("low", "medium", "high")


@dataclass(frozen=True)
class FilterSettings:
    """How hard to protect, and the seed that makes a run repeatable.

    Raises:
        ProtectionError: ``strength`` is not one of :data:`STRENGTHS`, or a private label
            is not an ImageNet class index.
    """

    strength: str = "medium"
    seed: int | None = None
    # The platform recompression to survive ("none", "facebook", "instagram").
    profile: str = "none"
    # ImageNet classes the user marks private: a filter never makes the photo look like them.
    private_labels: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.strength not in STRENGTHS:
            raise ProtectionError(
                f"unknown strength {self.strength!r}; choose one of {', '.join(STRENGTHS)}"
            )
        labels = self.private_labels
        if not isinstance(labels, tuple) or not all(
            isinstance(c, int) and 0 <= c < 1000 for c in labels
        ):
            raise ProtectionError(f"private labels must be ImageNet indices 0..999, got {labels!r}")


@dataclass(frozen=True)
class Filtered:
    """A filter's output: the new photo and a JSON-friendly report of what it did."""

    photo: Photo
    report: dict[str, Any] = field(default_factory=dict)


class Filter(ABC):
    """One protection step. Subclasses set ``name`` and ``description`` and implement apply."""

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    def create(cls, surrogate: Surrogate) -> Filter:
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
        for step in self.filters:
            try:
                result = step.apply(photo, settings)
            except ProtectionError:
                raise
            except Exception as exc:  # a filter bug must reach the caller as a readable error
                raise ProtectionError(f"the {step.name} filter failed: {exc}") from exc
            photo, reports[step.name] = result.photo, result.report
        return Filtered(photo, reports)
