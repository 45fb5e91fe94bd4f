"""``veil bench --activities``, its motion part: how long a 2-hour FIT file (1 Hz GPS, a
50 Hz accelerometer) takes through ``track-privacy`` and then ``motion-anonymise``, as the
proxy runs them, idle and with every core busy; and how well ``motion-anonymise`` keeps the
activity and hides the person, as ``activities/motion_train.py --evaluate`` measured it
(``benchmarks/results/motion.json``): not retrained here, which takes minutes of training.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path

from activities import MotionAnonymise, TrackPrivacy, TrackSettings
from batch.activity_bench import ACCEL_HZ, LONG_SECONDS
from batch.activity_samples import HOME, loop, to_fit
from batch.machine import cpu_hog

__all__ = ["MOTION_RESULTS", "motion_accuracy", "motion_section", "motion_speed"]

MOTION_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "motion.json"


def motion_speed(runs: int, busy: bool) -> dict[str, object]:
    """Seconds for both filters on a 2-hour FIT file, median of ``runs``; the first run
    (torch and the network loaded: once per proxy) apart."""
    # The track-privacy bench's file: a loop of LONG_SECONDS points 3 m apart at 3 m/s.
    activity = loop(0.0, leg_m=LONG_SECONDS * 3.0 / (2 + math.sqrt(3)), step_m=3.0)
    data = to_fit(activity, accel_hz=ACCEL_HZ)
    settings = TrackSettings((HOME,), secret=b"bench")

    kept: list[int] = []

    def both() -> float:
        start = time.perf_counter()
        tracked = TrackPrivacy().apply(data, settings)
        moved = MotionAnonymise().apply(tracked.data)
        elapsed = time.perf_counter() - start
        # What was recorded inside the hidden area at the start and the end left with it.
        assert 0 < moved.report.samples < LONG_SECONDS * ACCEL_HZ, moved.report
        kept.append(moved.report.samples)
        return elapsed

    first = both()
    idle = [both() for _ in range(runs)]
    result: dict[str, object] = {
        "fit_bytes": len(data),
        "records": len(activity.latitudes),
        "accelerometer_samples": LONG_SECONDS * ACCEL_HZ,
        "accelerometer_samples_anonymised": kept[0],
        "first_run_seconds": round(first, 3),
        "seconds_idle_median": round(statistics.median(idle), 3),
    }
    if busy:
        with cpu_hog():
            loaded = [both() for _ in range(runs)]
        result["seconds_busy_median"] = round(statistics.median(loaded), 3)
    return result


def motion_accuracy(path: Path = MOTION_RESULTS) -> dict[str, object]:
    """The figures of the shipped weights on HAPT (each person's second recording, which
    the networks never saw): activity F1 and identification by a retrained attacker."""
    measured = json.loads(path.read_text())
    raw, hidden = measured["raw"], measured["anonymised"]
    return {
        "source": str(path.relative_to(path.parents[2])),
        "dataset": measured["dataset"],
        "protocol": measured["protocol"],
        "people": measured["people"],
        "activity_f1": {"raw": raw["activity_f1"], "anonymised": hidden["activity_f1"]},
        "identification_top1": {
            "raw": raw["identification_top1"],
            "anonymised": hidden["identification_top1"],
            "chance": measured["chance_identification"],
        },
        "identification_top1_per_upload": {
            "raw": raw["identification_top1_per_upload"],
            "anonymised": hidden["identification_top1_per_upload"],
        },
        "walking_identification_top1": {
            "raw": raw["walking_identification_top1"],
            "anonymised": hidden["walking_identification_top1"],
        },
        "walking_identification_top1_per_upload": {
            "raw": raw["walking_identification_top1_per_upload"],
            "anonymised": hidden["walking_identification_top1_per_upload"],
        },
        "attacker": measured["attacker"],
        "goals_met": measured["goals"]["met"],
    }


def motion_section(runs: int, busy: bool) -> dict[str, object]:
    return {"speed": motion_speed(runs, busy), "accuracy": motion_accuracy()}
