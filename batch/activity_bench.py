"""``veil bench --activities``: how well ``track-privacy`` hides home, whether the files stay
valid, and how fast a long FIT file is rewritten, idle and with every core busy; then
``motion-anonymise`` (``batch.motion_bench``).

The tracks are made up (``batch.activity_samples``): loops from a home in random directions,
as a runner's week of runs. No real track ships with Veil: a real one leads to someone's home.
"""

from __future__ import annotations

import io
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from activities import TrackPrivacy, TrackSettings
from activities.attack import guess_errors
from activities.zones import ZONE_STRENGTHS, PrivacyZone, distance_m, hidden_mask
from batch.activity_samples import HOME, Activity, loop, to_fit, to_gpx, to_tcx
from batch.machine import cpu_hog, environment

__all__ = ["run_activity_bench", "spread", "write_activity_results"]

ACTIVITIES_PER_HOME = 20
# A 2-hour activity: one GPS point a second, the accelerometer at 50 Hz.
LONG_SECONDS, ACCEL_HZ = 7200, 50


def _ends(activity: Activity, hidden: np.ndarray) -> list[tuple[float, float]]:
    """Where a protected track appears and disappears: its first and last kept points."""
    kept = np.flatnonzero(~hidden)
    if not len(kept):
        return []
    lat, lon = activity.latitudes, activity.longitudes
    return [(lat[kept[0]], lon[kept[0]]), (lat[kept[-1]], lon[kept[-1]])]


def attack(
    homes: int, zone: PrivacyZone = HOME, per_home: int = ACTIVITIES_PER_HOME, seed: int = 0
) -> dict[str, object]:
    """For each home (its own install secret), ``per_home`` activities in random directions:
    the attacker's guesses from all of them protected, and from a fixed circle of the zone's
    radius (what a privacy zone without a varying cut gives)."""
    rng = np.random.default_rng(seed)
    errors: dict[str, list[float]] = {"centroid": [], "circle_fit": []}
    fixed: dict[str, list[float]] = {"centroid": [], "circle_fit": []}
    nearest, reach, hidden_whole = [], [], 0
    for home in range(homes):
        settings = TrackSettings((zone,), secret=f"install {home}".encode())
        ends, fixed_ends = [], []
        for index in range(per_home):
            activity = loop(float(rng.uniform(0, 360)), leg_m=4000.0, step_m=20.0, seed=index)
            lat, lon = activity.latitudes, activity.longitudes
            away = np.array(
                [
                    distance_m(a, b, zone.latitude, zone.longitude)
                    for a, b in zip(lat, lon, strict=True)
                ]
            )
            hidden = hidden_mask(settings.areas(f"{home}/{index}".encode()), lat, lon)
            if hidden.all():
                hidden_whole += 1
                continue
            ends += _ends(activity, hidden)
            fixed_ends += _ends(activity, away <= zone.radius_m)
            nearest.append(float(away[~hidden].min()))
            reach.append(float(away[hidden].max()))
        for name, value in guess_errors(ends, zone).items():
            errors[name].append(value)
        for name, value in guess_errors(fixed_ends, zone).items():
            fixed[name].append(value)
    return {
        "strength": zone.strength,
        "homes": homes,
        "activities_per_home": per_home,
        "zone_radius_m": zone.radius_m,
        "miss_m": {name: spread(values) for name, values in errors.items()},
        "miss_m_fixed_circle": {name: spread(values) for name, values in fixed.items()},
        "share_missing_by_radius": {
            name: float(np.mean(np.array(values) >= zone.radius_m))
            for name, values in errors.items()
        },
        "nearest_kept_point_m": min(nearest),
        "hidden_reach_m": spread(reach),
        "activities_hidden_whole": hidden_whole,
    }


def attacks(homes: int) -> dict[str, object]:
    """The attack on each zone strength, with 20 activities a home as the issue's attacker
    has; and on the default strength with 200, where the centroid settles (how far it lands
    from home is then the geometry's, no longer chance)."""
    found: dict[str, object] = {
        strength: attack(homes, replace(HOME, strength=strength)) for strength in ZONE_STRENGTHS
    }
    found["many_uploads"] = attack(max(3, homes // 4), per_home=200)
    return found


def spread(values: list[float]) -> dict[str, float]:
    """Min, median and max, to 0.1."""
    return {
        "min": round(min(values), 1),
        "median": round(statistics.median(values), 1),
        "max": round(max(values), 1),
    }


def validity() -> dict[str, object]:
    """Each format through track-privacy, read back by the field's own parsers."""
    import fitdecode
    import gpxpy
    from garmin_fit_sdk import Decoder, Stream

    activity = loop(30.0, leg_m=4000.0, step_m=10.0)
    settings = TrackSettings((HOME,), secret=b"bench")
    found: dict[str, object] = {}
    gpx = TrackPrivacy().apply(to_gpx(activity), settings)
    parsed = gpxpy.parse(gpx.data.decode())
    kept = [(p.latitude, p.longitude) for p in parsed.walk(only_points=True)]
    original = {
        (float(a), float(b)) for a, b in zip(activity.latitudes, activity.longitudes, strict=True)
    }
    found["gpx"] = {
        "reads": True,
        "points_kept": len(kept),
        "kept_points_unchanged": set(kept) <= original,
        "length_outside_zones_m": round(parsed.length_2d(), 1),
    }
    tcx = TrackPrivacy().apply(to_tcx(activity), settings)
    found["tcx"] = {"points_kept": tcx.report.points - tcx.report.points_hidden}
    fit = TrackPrivacy().apply(to_fit(activity, accel_hz=25), settings)
    messages, errors = Decoder(Stream.from_byte_array(bytearray(fit.data))).read()
    with fitdecode.FitReader(io.BytesIO(fit.data), check_crc=fitdecode.CrcCheck.ENABLED) as reader:
        frames = sum(1 for _ in reader)
    found["fit"] = {
        "garmin_sdk_errors": [str(error) for error in errors],
        "fitdecode_frames": frames,
        "serial_left": "serial_number" in messages["file_id_mesgs"][0],
    }
    return found


def speed(runs: int, busy: bool) -> dict[str, object]:
    """Seconds to rewrite a 2-hour FIT file (1 Hz GPS, 50 Hz accelerometer), median of ``runs``."""
    # A loop of two legs and a return leg sqrt(3) times as long, one point every 3 m at
    # 3 m a second: LONG_SECONDS points in all.
    activity = loop(0.0, leg_m=LONG_SECONDS * 3.0 / (2 + math.sqrt(3)), step_m=3.0)
    data = to_fit(activity, accel_hz=ACCEL_HZ)
    settings = TrackSettings((HOME,), secret=b"bench")

    def timed() -> list[float]:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            TrackPrivacy().apply(data, settings)
            times.append(time.perf_counter() - start)
        return times

    idle = timed()
    result: dict[str, object] = {
        "fit_bytes": len(data),
        "records": len(activity.latitudes),
        "seconds_idle_median": round(statistics.median(idle), 3),
    }
    if busy:
        with cpu_hog():
            loaded = timed()
        result["seconds_busy_median"] = round(statistics.median(loaded), 3)
    return result


def run_activity_bench(
    homes: int = 10, runs: int = 5, busy: bool = True, progress: Callable[[str], None] = print
) -> dict[str, object]:
    progress(
        f"home-finding attack: {homes} homes x {ACTIVITIES_PER_HOME} activities, each strength"
    )
    results: dict[str, object] = {"machine": environment(), "attack": attacks(homes)}
    progress(f"timing attack: {homes} homes x {ACTIVITIES_PER_HOME} GPX, TCX and FIT files")
    from batch.timing_attack import timing_attack

    results["timing_attack"] = timing_attack(homes, ACTIVITIES_PER_HOME)
    progress("validity: GPX, TCX and FIT read back by gpxpy, Garmin's SDK and fitdecode")
    results["validity"] = validity()
    progress("speed: a 2-hour FIT file, 1 Hz GPS and a 50 Hz accelerometer")
    results["speed"] = speed(runs, busy)
    progress("motion: that file through track-privacy and motion-anonymise; HAPT's figures")
    from batch.motion_bench import motion_section  # here: it takes this module's constants

    results["motion"] = motion_section(runs, busy)
    return results


def write_activity_results(results: dict[str, object], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    return out
