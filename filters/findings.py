"""What the face filters found in an upload, as the audit shows it: each face's box on the
photo shown upright (as its thumbnails are), and how many faces were changed.

The filters report boxes in the pixels as stored. Phones often store a photo sideways with an
EXIF Orientation that turns it for display, and the audit page draws the boxes over the
upright thumbnail: so the boxes are turned the same way here, and given as fractions of the
upright photo, which fit a thumbnail of any size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from filters.codecs.exif import orientation
from filters.record import Protected

__all__ = ["FaceFindings", "face_findings", "upright_box"]

# How each filter's report counts the faces it changed.
_CHANGED_KEYS = ("redacted", "cloaked")

Point = tuple[float, float]
# Where a point (x, y) of a width x height photo as stored lands once the photo is shown
# upright, by EXIF Orientation (the turns the thumbnails make).
_TURNS: dict[int, Callable[[float, float, float, float], Point]] = {
    1: lambda x, y, w, h: (x, y),
    2: lambda x, y, w, h: (w - x, y),
    3: lambda x, y, w, h: (w - x, h - y),
    4: lambda x, y, w, h: (x, h - y),
    5: lambda x, y, w, h: (y, x),
    6: lambda x, y, w, h: (h - y, x),
    7: lambda x, y, w, h: (h - y, w - x),
    8: lambda x, y, w, h: (y, w - x),
}


@dataclass(frozen=True)
class FaceFindings:
    """The faces a face filter found (each ``"x,y,w,h"``, fractions of the upright photo)
    and how many of them it changed."""

    found: list[str]
    changed: int


def upright_box(
    box: Sequence[float], width: int, height: int, orientation: int
) -> tuple[float, float, float, float]:
    """A box (x, y, w, h) of a ``width`` x ``height`` photo as stored, clipped to it and
    turned upright by ``orientation``: x, y, w, h as fractions of the upright photo.

    >>> upright_box((10, 20, 30, 40), 100, 200, 6)
    (0.7, 0.1, 0.2, 0.3)
    """
    x, y, w, h = (float(value) for value in box)
    left, top = min(max(x, 0.0), width), min(max(y, 0.0), height)
    right, bottom = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    turn = _TURNS.get(orientation, _TURNS[1])
    (x0, y0), (x1, y1) = turn(left, top, width, height), turn(right, bottom, width, height)
    across, down = (height, width) if orientation >= 5 else (width, height)
    return (
        round(min(x0, x1) / across, 4),
        round(min(y0, y1) / down, 4),
        round(abs(x1 - x0) / across, 4),
        round(abs(y1 - y0) / down, 4),
    )


def _found(report: Mapping[str, Any], protected: Protected) -> list[str]:
    photo = protected.original
    turn = orientation(photo)
    boxes = [upright_box(face["box"], photo.width, photo.height, turn) for face in report["faces"]]
    return [",".join(f"{value:g}" for value in box) for box in boxes]


def face_findings(protected: Protected) -> FaceFindings | None:
    """What the chain's first face filter found and changed; None when none ran.

    The first, because it saw the faces as uploaded: a second face filter looks at faces the
    first one may already have made unrecognisable.
    """
    for name in protected.filters:
        report = protected.report.get(name)
        if isinstance(report, Mapping) and isinstance(report.get("faces"), list):
            changed = next((int(report[key]) for key in _CHANGED_KEYS if key in report), 0)
            return FaceFindings(_found(report, protected), changed)
    return None
