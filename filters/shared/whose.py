"""Whose faces the face filters change: a policy's choice. Pure data and one rule, no models.

``all`` (the default) changes every face; ``bystanders`` every face but the largest, so the
subject of a photo keeps theirs and the people around them are protected; ``none`` none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["DEFAULT_FACES", "WHOSE_FACES", "chosen_faces"]

WHOSE_FACES: tuple[str, ...] = ("all", "bystanders", "none")
DEFAULT_FACES = "all"


class _Sized(Protocol):
    @property
    def area(self) -> float: ...


FaceT = TypeVar("FaceT", bound=_Sized)


def chosen_faces(faces: Sequence[FaceT], whose: str) -> list[FaceT]:
    """The faces a face filter changes, by ``whose`` (one of :data:`WHOSE_FACES`).

    ``bystanders`` leaves the largest face alone, and so changes nothing in a photo of one.

    Raises:
        ValueError: ``whose`` is not one of :data:`WHOSE_FACES`.
    """
    if whose not in WHOSE_FACES:
        raise ValueError(f"whose faces must be one of {', '.join(WHOSE_FACES)}, not {whose!r}")
    if whose == "none" or not faces:
        return []
    if whose == "bystanders":
        subject = max(faces, key=lambda face: face.area)
        return [face for face in faces if face is not subject]
    return list(faces)
