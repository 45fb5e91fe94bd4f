"""``motion-anonymise`` for JSON sensor uploads: a list of samples or an object of
equal-length lists with accelerometer keys (as :mod:`activities.motion_tables` reads column
names), or samples as CoreMotion and the browser's DeviceMotionEvent record them: the
numbers replaced, the rest as it was, gyroscope values null."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from activities.motion_common import MotionReport, MotionSettings, anonymised
from activities.motion_tables import (
    GYRO_COLUMN,
    accel_axes,
    numbers,
    sample_rate,
    time_column,
    to_g,
)

__all__ = ["SampleLayout", "protect_json_motion", "sample_layout", "sample_stream"]

GRAVITY_SECONDS = 1.0  # the moving mean that finds gravity: one stride or two
# A gyroscope object (``"rotationRate": {"alpha", ...}``); CoreMotion's attitude is the
# gyroscope integrated, turning with every stride as it does.
_GYRO_OBJECT = re.compile(r"^(?:gyro(?:scope)?|gyr|rotation_?rate|attitude)$", re.IGNORECASE)


def sample_stream(node: Any, depth: int = 0) -> list[dict[str, Any]] | dict[str, Any] | None:
    """The first list of sample objects with accelerometer keys (or a nested
    ``{"acceleration": {"x", "y", "z"}}``, a DeviceMotionEvent's or a CMDeviceMotion's
    fields), or the first object of equal-length accelerometer lists, in the JSON tree."""
    if depth > 4:
        return None
    if (
        isinstance(node, list)
        and node
        and all(isinstance(item, dict) for item in node)
        and sample_layout(node[0]) is not None
    ):
        return node
    if isinstance(node, dict):
        found = accel_axes(list(node))
        if found and all(isinstance(node[name], list) for name in found[0]):
            return node
        for value in node.values():
            if (inner := sample_stream(value, depth + 1)) is not None:
                return inner
    if isinstance(node, list):
        for value in node[:1]:
            if isinstance(value, dict | list) and (inner := sample_stream(value, depth + 1)):
                return inner
    return None


@dataclass(frozen=True)
class SampleLayout:
    """Where one sample keeps its acceleration. ``total``: the keys of the vectors that add
    up to the acceleration with gravity (None: the sample's own ``axes``); ``linear``: the
    vector without gravity, ``gravity``: gravity's, both written from the anonymised
    total."""

    axes: list[str]  # the x, y and z keys, in the sample or in each vector
    unit: str
    total: tuple[str | None, ...] = (None,)
    linear: str | None = None
    gravity: str | None = None


def sample_layout(sample: dict[str, Any]) -> SampleLayout | None:
    """How ``sample`` holds acceleration: its own ``accX``...; W3C DeviceMotionEvent
    (``accelerationIncludingGravity``, m/s², and ``acceleration`` without gravity);
    CoreMotion's CMDeviceMotion (``userAcceleration`` + ``gravity``, g); or one nested
    ``acceleration`` (CMAccelerometerData, g)."""
    found = accel_axes(list(sample))
    if found:
        return SampleLayout(*found)
    vectors = {
        key.lower(): (key, inner)
        for key, value in sample.items()
        if isinstance(key, str) and isinstance(value, dict) and (inner := accel_axes(list(value)))
    }
    if "accelerationincludinggravity" in vectors:
        key, (axes, unit) = vectors["accelerationincludinggravity"]
        # Null in the events before the gyroscope starts: the key says it, not the value.
        linear = next((k for k in sample if str(k).lower() == "acceleration"), None)
        return SampleLayout(axes, unit, (key,), linear=linear)
    if "useracceleration" in vectors:
        key, (axes, unit) = vectors["useracceleration"]
        gravity = vectors["gravity"][0] if "gravity" in vectors else None
        return SampleLayout(axes, unit, (key, gravity) if gravity else (key,), key, gravity)
    for key, (axes, unit) in vectors.values():
        if key.lower().startswith("acc"):
            return SampleLayout(axes, unit, (key,))
    return None


def protect_json_motion(text: str, settings: MotionSettings) -> tuple[str, MotionReport]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from error
    found = sample_stream(document)
    if found is None:
        raise ValueError("a JSON upload without accelerometer values (x,y,z, accX..., acc_x...)")
    report = MotionReport("JSON")
    if isinstance(found, dict):
        _protect_columns(found, settings, report)
    else:
        _protect_samples(found, settings, report)
    return json.dumps(document, ensure_ascii=False), report


def _protect_columns(found: dict[str, Any], settings: MotionSettings, report: MotionReport) -> None:
    """``{"x": [...], "y": [...], "z": [...], "t": [...]}``, rewritten in place."""
    columns, unit = accel_axes(list(found))  # type: ignore[misc]
    if len({len(found[name]) for name in columns}) != 1:
        raise ValueError("JSON: the accelerometer lists differ in length")
    values = numbers(list(zip(*(found[name] for name in columns), strict=True)), "JSON")
    timed = time_column(list(found))
    times = found[timed[0]] if timed and isinstance(found[timed[0]], list) else None
    per_g = to_g(values, unit, report)
    rate, report.rate_known = sample_rate(times, timed[1] if timed else "", settings)
    rounded = np.round(anonymised(values * per_g, rate, report) / per_g, 7).tolist()
    for axis, name in enumerate(columns):
        found[name] = [row[axis] for row in rounded]
    _empty_gyroscope(found, report)


def _protect_samples(
    found: list[dict[str, Any]], settings: MotionSettings, report: MotionReport
) -> None:
    """A list of samples, each rewritten in place as :func:`sample_layout` reads it."""
    layout = sample_layout(found[0])
    assert layout is not None
    if layout.linear in layout.total and layout.gravity is None:
        raise ValueError("JSON: userAcceleration without gravity (no total acceleration)")
    values = np.sum([_vectors(found, key, layout.axes) for key in layout.total], axis=0)
    per_g = to_g(values, layout.unit, report)
    times, unit_hint = _sample_times(found)
    rate, report.rate_known = sample_rate(times, unit_hint, settings)
    hidden_g = anonymised(values * per_g, rate, report)
    written = {layout.total[0]: hidden_g}
    if layout.linear is not None:
        # Gravity from the anonymised stream, not the upload's: CoreMotion's gravity turns
        # with the phone at every stride, so the original would still tell the gait.
        gravity_g = _gravity(hidden_g, rate)
        if layout.gravity is not None:  # CoreMotion: userAcceleration + gravity = total
            written = {layout.gravity: gravity_g}
        written[layout.linear] = hidden_g - gravity_g
    for key, vectors_g in written.items():
        rows = np.round(vectors_g / per_g, 7).tolist()
        for sample, row in zip(found, rows, strict=True):
            holder = sample if key is None else sample.get(key)
            # A DeviceMotionEvent without a gyroscope has no acceleration without gravity.
            if isinstance(holder, dict) and all(holder.get(k) is not None for k in layout.axes):
                holder.update(zip(layout.axes, row, strict=True))
    for sample in found:
        _empty_gyroscope(sample, report)


def _vectors(found: list[dict[str, Any]], key: str | None, axes: list[str]) -> np.ndarray:
    holders = [sample if key is None else sample.get(key) for sample in found]
    if not all(isinstance(h, dict) and all(k in h for k in axes) for h in holders):
        raise ValueError("JSON: a sample lacks an accelerometer value")
    return numbers([[h[k] for k in axes] for h in holders], "JSON")  # type: ignore[index]


def _sample_times(found: list[dict[str, Any]]) -> tuple[list[Any] | None, str]:
    """The samples' times and the unit their key says; a DeviceMotionEvent's ``interval``
    (ms between samples) counted up when no time is given."""
    timed = time_column(list(found[0]))
    if timed:
        return [sample.get(timed[0]) for sample in found], timed[1]
    try:
        steps = [float(sample["interval"]) for sample in found]
    except (KeyError, TypeError, ValueError):
        return None, ""
    return np.cumsum(steps).tolist(), ""  # ms by the spec; seconds when that small


def _gravity(total_g: np.ndarray, rate_hz: float) -> np.ndarray:
    """Gravity in ``total_g``: a moving mean over a second, twice (about HAPT's 0.3 Hz
    low-pass), at 1 g as CoreMotion gives it."""
    half = max(1, round(rate_hz * GRAVITY_SECONDS / 2))
    slow = total_g
    for _ in range(2):
        sums = np.concatenate([np.zeros((1, 3)), np.cumsum(slow, axis=0)])
        index = np.arange(len(slow))
        low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, len(slow))
        slow = (sums[high] - sums[low]) / (high - low)[:, None]
    size = np.linalg.norm(slow, axis=1, keepdims=True)
    return np.divide(slow, size, out=np.zeros_like(slow), where=size > 1e-6)


def _empty_gyroscope(table: dict[str, Any], report: MotionReport) -> None:
    """Gyroscope values in ``table`` (a sample or an object of columns) emptied, keys and
    lists kept, as CSV keeps its gyroscope columns empty."""
    emptied = False
    for key, value in table.items():
        name = key.strip() if isinstance(key, str) else ""
        container = isinstance(value, dict | list)
        if GYRO_COLUMN.match(name) or (container and _GYRO_OBJECT.match(name)):
            table[key] = _emptied(value)
            emptied = True
    if emptied and "gyroscope" not in report.fields_removed:
        report.fields_removed.append("gyroscope")


def _emptied(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _emptied(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_emptied(value) for value in node]
    return None
