"""``veil bench --activities``, its timing attacker: what a platform reads in a protected
file about the hidden ends of a track. A published start before the first kept point (or an
end after the last), hidden records' speeds, totals that cover more than the kept points:
each tells how far the track ran inside the hidden area, and home lies that far from where
the track appears or disappears. Twenty uploads give forty such circles; least squares on
|home - exit| = pace x hidden time (or the hidden distance) finds where they meet.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import xml.etree.ElementTree as ET

import numpy as np

from activities import TrackPrivacy, TrackSettings
from activities.attack import multilateration_guess
from activities.zones import PrivacyZone, distance_m
from batch.activity_bench import spread
from batch.activity_samples import HOME, Activity, loop, to_fit, to_gpx, to_tcx

__all__ = ["published_ends", "timing_attack"]

Point = tuple[float, float]
Ends = list[tuple[Point, float]]  # (exit point, metres from it to home as the file tells)
TCX = {"t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"}
WRITERS = {"GPX": to_gpx, "TCX": to_tcx, "FIT": to_fit}


def _path_m(points: list[Point]) -> float:
    return sum(distance_m(*a, *b) for a, b in itertools.pairwise(points))


def _gpx_ends(data: bytes) -> Ends:
    import gpxpy

    gpx = gpxpy.parse(data.decode())
    points = [p for p in gpx.walk(only_points=True) if p.time is not None]
    first, last = points[0], points[-1]
    pace = gpx.length_2d() / max(1.0, (last.time - first.time).total_seconds())
    start = min(gpx.time or first.time, first.time)
    # GPX has no end besides its last point: only the start can tell.
    return [((first.latitude, first.longitude), pace * (first.time - start).total_seconds())]


def _tcx_time(text: str | None) -> dt.datetime:
    return dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))


def _tcx_ends(data: bytes) -> Ends:
    root = ET.fromstring(data)
    points = []
    for point in root.iterfind(".//t:Trackpoint", TCX):
        lat = point.findtext("t:Position/t:LatitudeDegrees", namespaces=TCX)
        lon = point.findtext("t:Position/t:LongitudeDegrees", namespaces=TCX)
        if lat and lon:
            time = _tcx_time(point.findtext("t:Time", namespaces=TCX))
            points.append(((float(lat), float(lon)), time))
    laps = root.findall(".//t:Lap", TCX)
    starts = [_tcx_time(lap.get("StartTime")) for lap in laps]
    starts += [_tcx_time(e.text) for e in root.iterfind(".//t:Id", TCX)]
    ends = [
        _tcx_time(lap.get("StartTime"))
        + dt.timedelta(seconds=float(lap.findtext("t:TotalTimeSeconds", "0", TCX)))
        for lap in laps
    ]
    (first, t_first), (last, t_last) = points[0], points[-1]
    pace = _path_m([p for p, _ in points]) / max(1.0, (t_last - t_first).total_seconds())
    return [
        (first, pace * max(0.0, (t_first - min(starts)).total_seconds())),
        (last, pace * max(0.0, (max(ends) - t_last).total_seconds())),
    ]


def _fit_ends(data: bytes) -> Ends:
    import fitdecode

    records, session = [], {}
    with fitdecode.FitReader(io.BytesIO(data)) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            values = {f.name: f.value for f in frame.fields}
            if frame.name == "record":
                records.append(values)
            elif frame.name == "session":
                session = values
    semicircle = 180 / 2**31
    placed = [i for i, r in enumerate(records) if r.get("position_lat") is not None]
    first, last = placed[0], placed[-1]

    def where(index: int) -> Point:
        record = records[index]
        return record["position_lat"] * semicircle, record["position_long"] * semicircle

    def seconds(a: dt.datetime, b: dt.datetime) -> float:
        return max(0.0, (b - a).total_seconds())

    kept_s = max(1.0, seconds(records[first]["timestamp"], records[last]["timestamp"]))
    pace = _path_m([where(i) for i in placed]) / kept_s

    def hidden_m(rows: list[dict], fallback_s: float) -> float:
        # The hidden records' own speeds when they kept them; else pace x the hidden time.
        speeds = [r.get("enhanced_speed") or r.get("speed") for r in rows]
        if rows and all(s is not None for s in speeds):
            stamps = [r["timestamp"] for r in rows]
            steps = [seconds(a, b) for a, b in itertools.pairwise(stamps)] + [0.0]
            return float(sum(s * t for s, t in zip(speeds, steps, strict=True)))
        return pace * fallback_s

    start = session.get("start_time") or records[0]["timestamp"]
    end = records[-1]["timestamp"]
    if session.get("total_elapsed_time") is not None:
        end = max(end, start + dt.timedelta(seconds=float(session["total_elapsed_time"])))
    return [
        (where(first), hidden_m(records[: first + 1], seconds(start, records[first]["timestamp"]))),
        (where(last), hidden_m(records[last:], seconds(records[last]["timestamp"], end))),
    ]


READERS = {"GPX": _gpx_ends, "TCX": _tcx_ends, "FIT": _fit_ends}


def published_ends(kind: str, data: bytes) -> Ends:
    """What the protected file ``data`` says of its hidden ends, as a platform reads it."""
    return READERS[kind](data)


def timing_attack(
    homes: int, per_home: int = 20, zone: PrivacyZone = HOME, seed: int = 0
) -> dict[str, object]:
    """Per format, how far the multilateration from ``per_home`` protected uploads a home
    lands from it (metres; min / median / max over ``homes``)."""
    rng = np.random.default_rng(seed)
    misses: dict[str, list[float]] = {kind: [] for kind in WRITERS}
    for home in range(homes):
        settings = TrackSettings((zone,), secret=f"install {home}".encode())
        ends: dict[str, Ends] = {kind: [] for kind in WRITERS}
        for index in range(per_home):
            activity: Activity = loop(
                float(rng.uniform(0, 360)), leg_m=4000.0, step_m=20.0, seed=index
            )
            for kind, write in WRITERS.items():
                result = TrackPrivacy().apply(write(activity), settings)
                ends[kind] += published_ends(kind, result.data)
        for kind, found in ends.items():
            guess = multilateration_guess([p for p, _ in found], [r for _, r in found])
            misses[kind].append(distance_m(*guess, zone.latitude, zone.longitude))
    return {
        "homes": homes,
        "activities_per_home": per_home,
        "zone_radius_m": zone.radius_m,
        "strength": zone.strength,
        "runner_m_per_s": 3.0,
        "miss_m": {kind: spread(values) for kind, values in misses.items()},
    }


if __name__ == "__main__":  # python -m batch.timing_attack [homes]: the section alone
    import json
    import sys

    print(json.dumps(timing_attack(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=1))
