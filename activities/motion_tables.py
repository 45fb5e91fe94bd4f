"""``motion-anonymise`` for sensor uploads in CSV or JSON with accelerometer columns
(``x,y,z``, ``accX``, ``acc_x``, ``accel_x``, ``accelerationX``...; in g or m/s², by the
column's name or by gravity's magnitude), or JSON samples as CoreMotion and the browser's
DeviceMotionEvent record them: the numbers replaced, the rest as it was, the gyroscope
columns emptied (null in JSON)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from activities.motion_common import (
    RATE_HZ,
    STANDARD_GRAVITY,
    MotionReport,
    MotionSettings,
    anonymised,
)

__all__ = [
    "accel_axes",
    "csv_dialect",
    "protect_csv_motion",
    "protect_json_motion",
    "sample_layout",
    "sample_stream",
]

GRAVITY_SECONDS = 1.0  # the moving mean that finds gravity: one stride or two

_AXIS = r"[-_ .]?\(?([xyz])\)?"
_ACCEL_COLUMN = re.compile(
    rf"^(?:acc(?:el(?:eration|erometer)?)?(?:including_?gravity)?)?{_AXIS}"
    r"(?:[-_ .]*[\[(]?(g|m/s\^?2|m/s²|ms-2)[\])]?)?$",
    re.IGNORECASE,
)
_GYRO_COLUMN = re.compile(rf"^(?:gyro(?:scope)?|gyr|rotation_?rate){_AXIS}\b.*$", re.IGNORECASE)
# A gyroscope object (``"rotationRate": {"alpha", ...}``); CoreMotion's attitude is the
# gyroscope integrated, turning with every stride as it does.
_GYRO_OBJECT = re.compile(r"^(?:gyro(?:scope)?|gyr|rotation_?rate|attitude)$", re.IGNORECASE)
_TIME_COLUMN = re.compile(
    r"^(?:time|timestamp|t|ts|seconds_elapsed|elapsed)(?:[-_ ]?\(?(ms|s|ns)\)?)?$", re.I
)


def accel_axes(names: list[str]) -> tuple[list[str], str] | None:
    """The x, y and z accelerometer columns among ``names`` (first match per axis) and the
    unit their names say ("" when they say none)."""
    axes: dict[str, str] = {}
    unit = ""
    for name in names:
        match = _ACCEL_COLUMN.match(name.strip())
        if match and match.group(1).lower() not in axes:
            axes[match.group(1).lower()] = name
            unit = unit or (match.group(2) or "")
    if len(axes) < 3:
        return None
    return [axes["x"], axes["y"], axes["z"]], unit


def _to_g(values: np.ndarray, unit: str, report: MotionReport) -> float:
    """g per stored unit: from the column's name, else from the magnitude (gravity alone
    is 1 in g and 9.8 in m/s²)."""
    in_ms2 = unit.lower().startswith("m") or (
        not unit and len(values) > 0 and np.median(np.linalg.norm(values, axis=1)) > 4.0
    )
    report.units = "m/s²" if in_ms2 else "g"
    return 1.0 / STANDARD_GRAVITY if in_ms2 else 1.0


def _rate(times: list[Any] | None, unit_hint: str, settings: MotionSettings) -> tuple[float, bool]:
    """The rate from a time column (seconds, ms or ns, by its name or by its steps)."""
    if times:
        try:
            stamps = np.asarray([float(t) for t in times], dtype=float)
        except (TypeError, ValueError):
            stamps = np.zeros(0)
        steps = np.diff(stamps)
        steps = steps[steps > 0]
        if len(steps):
            step = float(np.median(steps))
            per_second = {"ms": 1e3, "s": 1.0, "ns": 1e9}.get(unit_hint.lower())
            if per_second is None:
                per_second = 1.0 if step < 1 else 1e3 if step < 1e5 else 1e9
            return per_second / step, True
    return settings.rate_hz or float(RATE_HZ), settings.rate_hz is not None


def _time_column(names: list[str]) -> tuple[str, str] | None:
    for name in names:
        match = _TIME_COLUMN.match(name.strip())
        if match:
            return name, match.group(1) or ""
    return None


def _decimals(texts: list[str]) -> int:
    """How many decimals the upload wrote: the anonymised numbers are written alike."""
    most = max((len(t.split(".", 1)[1]) if "." in t else 0 for t in texts), default=0)
    return min(max(most, 3), 7)


def _numbers(rows: list[list[Any]], what: str) -> np.ndarray:
    try:
        values = np.asarray(rows, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: an accelerometer value is not a number") from error
    if not np.isfinite(values).all():
        raise ValueError(f"{what}: an accelerometer value is not finite")
    return values


def csv_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter (comma, semicolon or tab) and quoting of a CSV file's first lines."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def protect_csv_motion(text: str, settings: MotionSettings) -> tuple[str, MotionReport]:
    sample = text[:4096]
    dialect = csv_dialect(sample)
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise ValueError("an empty CSV file")
    header, body = rows[0], [row for row in rows[1:] if row]
    found = accel_axes(header)
    if found is None:
        raise ValueError("a CSV file without accelerometer columns (x,y,z, accX..., acc_x...)")
    columns, unit = found
    where = [header.index(name) for name in columns]
    if any(len(row) <= max(where) for row in body):
        raise ValueError("CSV: a row has fewer columns than the header")
    report = MotionReport("CSV")
    values = _numbers([[row[i] for i in where] for row in body], "CSV")
    per_g = _to_g(values, unit, report)
    timed = _time_column(header)
    times = [row[header.index(timed[0])] for row in body] if timed else None
    rate, report.rate_known = _rate(times, timed[1] if timed else "", settings)
    hidden = anonymised(values * per_g, rate, report) / per_g
    decimals = _decimals([row[i] for row in body[:200] for i in where])
    gyro = [i for i, name in enumerate(header) if _GYRO_COLUMN.match(name.strip())]
    for row, new in zip(body, hidden, strict=True):
        for i, value in zip(where, new, strict=True):
            row[i] = f"{value:.{decimals}f}"
        for i in gyro:
            if i < len(row):
                row[i] = ""
    if gyro:
        report.fields_removed.append("gyroscope")
    out = io.StringIO()
    writer = csv.writer(out, dialect, lineterminator="\r\n" if "\r\n" in sample else "\n")
    writer.writerow(header)
    writer.writerows(body)
    return out.getvalue(), report


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
    values = _numbers(list(zip(*(found[name] for name in columns), strict=True)), "JSON")
    timed = _time_column(list(found))
    times = found[timed[0]] if timed and isinstance(found[timed[0]], list) else None
    per_g = _to_g(values, unit, report)
    rate, report.rate_known = _rate(times, timed[1] if timed else "", settings)
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
    per_g = _to_g(values, layout.unit, report)
    times, unit_hint = _sample_times(found)
    rate, report.rate_known = _rate(times, unit_hint, settings)
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
    return _numbers([[h[k] for k in axes] for h in holders], "JSON")  # type: ignore[index]


def _sample_times(found: list[dict[str, Any]]) -> tuple[list[Any] | None, str]:
    """The samples' times and the unit their key says; a DeviceMotionEvent's ``interval``
    (ms between samples) counted up when no time is given."""
    timed = _time_column(list(found[0]))
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
        if _GYRO_COLUMN.match(name) or (container and _GYRO_OBJECT.match(name)):
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
