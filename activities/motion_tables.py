"""``motion-anonymise`` for sensor uploads in CSV with accelerometer columns (``x,y,z``,
``accX``, ``acc_x``, ``accel_x``, ``accelerationX``...; in g or m/s², by the column's name or
by gravity's magnitude): the numbers replaced, the rest as it was, the gyroscope columns
emptied. What reads columns is shared with the JSON uploads (:mod:`activities.motion_json`)."""

from __future__ import annotations

import csv
import io
import re
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
    "GYRO_COLUMN",
    "accel_axes",
    "csv_dialect",
    "numbers",
    "protect_csv_motion",
    "sample_rate",
    "time_column",
    "to_g",
]

_AXIS = r"[-_ .]?\(?([xyz])\)?"
_ACCEL_COLUMN = re.compile(
    rf"^(?:acc(?:el(?:eration|erometer)?)?(?:including_?gravity)?)?{_AXIS}"
    r"(?:[-_ .]*[\[(]?(g|m/s\^?2|m/s²|ms-2)[\])]?)?$",
    re.IGNORECASE,
)
GYRO_COLUMN = re.compile(rf"^(?:gyro(?:scope)?|gyr|rotation_?rate){_AXIS}\b.*$", re.IGNORECASE)
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


def to_g(values: np.ndarray, unit: str, report: MotionReport) -> float:
    """g per stored unit: from the column's name, else from the magnitude (gravity alone
    is 1 in g and 9.8 in m/s²)."""
    in_ms2 = unit.lower().startswith("m") or (
        not unit and len(values) > 0 and np.median(np.linalg.norm(values, axis=1)) > 4.0
    )
    report.units = "m/s²" if in_ms2 else "g"
    return 1.0 / STANDARD_GRAVITY if in_ms2 else 1.0


def sample_rate(
    times: list[Any] | None, unit_hint: str, settings: MotionSettings
) -> tuple[float, bool]:
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


def time_column(names: list[str]) -> tuple[str, str] | None:
    for name in names:
        match = _TIME_COLUMN.match(name.strip())
        if match:
            return name, match.group(1) or ""
    return None


def _decimals(texts: list[str]) -> int:
    """How many decimals the upload wrote: the anonymised numbers are written alike."""
    most = max((len(t.split(".", 1)[1]) if "." in t else 0 for t in texts), default=0)
    return min(max(most, 3), 7)


def numbers(rows: list[list[Any]], what: str) -> np.ndarray:
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
    values = numbers([[row[i] for i in where] for row in body], "CSV")
    per_g = to_g(values, unit, report)
    timed = time_column(header)
    times = [row[header.index(timed[0])] for row in body] if timed else None
    rate, report.rate_known = sample_rate(times, timed[1] if timed else "", settings)
    hidden = anonymised(values * per_g, rate, report) / per_g
    decimals = _decimals([row[i] for row in body[:200] for i in where])
    gyro = [i for i, name in enumerate(header) if GYRO_COLUMN.match(name.strip())]
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
