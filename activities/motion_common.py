"""What ``motion-anonymise`` shares across formats: its settings, its report, and the
stream passed through the network at the rate the upload has."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["RATE_HZ", "STANDARD_GRAVITY", "MotionReport", "MotionSettings", "anonymised"]

RATE_HZ = 50  # HAPT's rate: the networks know no other

STANDARD_GRAVITY = 9.80665  # m/s² in one g
# The audit draws this much of the stream: a few strides, enough to see the change.
TRACE_SECONDS, TRACE_POINTS = 10.0, 500


@dataclass(frozen=True)
class MotionSettings:
    """``rate_hz``: the upload's sample rate when it does not say (FIT and timed tables do)."""

    rate_hz: float | None = None

    def __post_init__(self) -> None:
        if self.rate_hz is not None and not 1 <= self.rate_hz <= 10_000:
            raise ValueError("rate_hz must lie between 1 and 10000")


@dataclass
class MotionReport:
    """What ``motion-anonymise`` did to one upload."""

    format: str
    samples: int = 0  # accelerometer samples anonymised
    rate_hz: float = float(RATE_HZ)
    rate_known: bool = True  # False: assumed, the upload does not say
    units: str = "g"  # as the upload holds them: g, m/s², FIT counts
    rms_change_g: float = 0.0
    fields_removed: list[str] = field(default_factory=list)
    # |acceleration| in g before and after, over the same few seconds, for the audit's drawing.
    trace_before: list[float] = field(default_factory=list, repr=False)
    trace_after: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "samples": self.samples,
            "rate_hz": self.rate_hz,
            "rate_known": self.rate_known,
            "units": self.units,
            "rms_change_g": self.rms_change_g,
            "fields_removed": list(self.fields_removed),
        }


def anonymised(acceleration_g: np.ndarray, rate_hz: float, report: MotionReport) -> np.ndarray:
    """The stream through the network at its 50 Hz, resampled there and back. The code's
    noise is drawn from the stream itself: the same upload gets the same output."""
    # torch loads on the first stream, not when the proxy imports the activity filters.
    from activities.motion_model import anonymise_stream

    report.samples, report.rate_hz = len(acceleration_g), float(rate_hz)
    if len(acceleration_g) == 0:
        return acceleration_g
    seed = int.from_bytes(hashlib.sha256(acceleration_g.tobytes()).digest()[:7], "big")
    if abs(rate_hz - RATE_HZ) < 0.5:
        out = anonymise_stream(acceleration_g, seed)
    else:
        times = np.arange(len(acceleration_g)) / rate_hz
        grid = np.arange(0.0, times[-1] + 1e-9, 1.0 / RATE_HZ)
        at_50 = np.stack([np.interp(grid, times, axis) for axis in acceleration_g.T], axis=1)
        hidden = anonymise_stream(at_50, seed)
        out = np.stack([np.interp(times, grid, axis) for axis in hidden.T], axis=1)
    report.rms_change_g = float(np.sqrt(np.mean((out - acceleration_g) ** 2)))
    if not report.trace_before:
        report.trace_before, report.trace_after = _excerpt(acceleration_g, out, rate_hz)
    return out


def _excerpt(
    before: np.ndarray, after: np.ndarray, rate_hz: float
) -> tuple[list[float], list[float]]:
    """The magnitude of TRACE_SECONDS from the stream's middle (its start is often still),
    at most TRACE_POINTS values each."""
    count = min(len(before), max(2, round(TRACE_SECONDS * rate_hz)))
    start = (len(before) - count) // 2
    step = max(1, -(-count // TRACE_POINTS))
    pick = slice(start, start + count, step)
    return (
        np.linalg.norm(before[pick], axis=1).round(4).tolist(),
        np.linalg.norm(after[pick], axis=1).round(4).tolist(),
    )
