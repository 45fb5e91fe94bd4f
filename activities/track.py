"""What every activity format shares: the settings of ``track-privacy``, its report, and the
shift that coarsens an activity's start time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from activities.zones import HiddenArea, PrivacyZone, hidden_areas

__all__ = ["START_TIMES", "StartTime", "TrackReport", "TrackSettings", "drawn", "start_shift"]

StartTime = Literal["keep", "minute", "hour"]
START_TIMES: tuple[StartTime, ...] = ("keep", "minute", "hour")
# Points kept per polyline in the report: enough to draw a track, small in the audit.
DRAWN_POINTS = 400


@dataclass(frozen=True)
class TrackSettings:
    """``zones``: the user's privacy zones; ``secret``: the install's, which fixes where each
    zone's hidden area sits; ``start_time``: to what the start time is coarsened."""

    zones: tuple[PrivacyZone, ...] = ()
    secret: bytes = b""
    start_time: StartTime = "minute"

    def __post_init__(self) -> None:
        if self.start_time not in START_TIMES:
            raise ValueError(f"start_time must be one of {', '.join(START_TIMES)}")

    def areas(self, upload_seed: bytes) -> list[HiddenArea]:
        return hidden_areas(self.zones, self.secret, upload_seed)


@dataclass
class TrackReport:
    """What ``track-privacy`` did to one file."""

    format: str
    points: int = 0  # track points with a position
    points_hidden: int = 0  # ... that lost it (inside a hidden area)
    fields_removed: list[str] = field(default_factory=list)  # e.g. "device serial"
    time_shift_s: float = 0.0  # added to every time (<= 0: the start coarsened)
    before: list[list[tuple[float, float]]] = field(default_factory=list)  # (lat, lon) lines
    after: list[list[tuple[float, float]]] = field(default_factory=list)

    def removed(self, what: str) -> None:
        if what not in self.fields_removed:
            self.fields_removed.append(what)


def start_shift(start: dt.datetime | None, precision: StartTime) -> dt.timedelta:
    """What to add to every time so that the first is coarsened: order and durations stay."""
    if start is None or precision == "keep":
        return dt.timedelta(0)
    floor = start.replace(second=0, microsecond=0)
    if precision == "hour":
        floor = floor.replace(minute=0)
    return floor - start


def drawn(lines: list[list[tuple[float, float]]]) -> list[list[tuple[float, float]]]:
    """Polylines thinned to about :data:`DRAWN_POINTS` points in all, for the audit."""
    step = max(1, sum(len(line) for line in lines) // DRAWN_POINTS)
    thinned = []
    for line in lines:
        if line:
            kept = line[::step]
            if kept[-1] != line[-1]:
                kept.append(line[-1])
            thinned.append(kept)
    return thinned
