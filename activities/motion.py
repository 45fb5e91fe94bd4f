"""The ``motion-anonymise`` filter: accelerometer streams that keep the activity and lose
the person (MSDA's anonymising autoencoder, :mod:`activities.motion_model`), in FIT files
(:mod:`activities.motion_fit`) and CSV or JSON sensor uploads
(:mod:`activities.motion_tables`, :mod:`activities.motion_json`).

The network learnt from a waist-worn phone at 50 Hz (UCI HAPT): other rates are resampled to
50 Hz and back; other placements are anonymised as well, but only HAPT's is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from activities.formats import GZIP_MAGIC, gunzip_capped, gzipped, sniff_activity
from activities.motion_common import MotionReport, MotionSettings
from activities.motion_fit import protect_fit_motion
from activities.motion_json import protect_json_motion
from activities.motion_tables import protect_csv_motion

__all__ = ["MotionAnonymise", "MotionReport", "MotionResult", "MotionSettings"]


@dataclass(frozen=True)
class MotionResult:
    data: bytes
    report: MotionReport
    gzipped: bool = False


class MotionAnonymise:
    name = "motion-anonymise"
    description = (
        "Accelerometer data (FIT accelerometer messages, CSV or JSON sensor uploads): "
        "rewritten by a network trained to keep the activity and hide who moved (MSDA); "
        "gyroscope data removed"
    )

    def apply(self, data: bytes, settings: MotionSettings | None = None) -> MotionResult:
        """Raises ValueError when ``data`` is no FIT, CSV or JSON upload with an
        accelerometer stream this filter can rewrite."""
        settings = settings or MotionSettings()
        found = sniff_activity(data)
        # Gzip that is no GPX, TCX or FIT: a sensor upload (``.csv.gz``), read inflated.
        zipped = bool(found[1]) if found else data.startswith(GZIP_MAGIC)
        plain = gunzip_capped(data) if zipped else data
        if found and found[0] == "FIT":
            out, report = protect_fit_motion(plain, settings)
            return MotionResult(gzipped(out) if zipped else out, report, zipped)
        if found:
            raise ValueError(f"a {found[0]} file holds no accelerometer data")
        try:
            text = plain.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValueError("not a FIT file, nor CSV or JSON text") from error
        bom = "\ufeff" if plain.startswith(b"\xef\xbb\xbf") else ""
        if text.lstrip()[:1] in ("{", "["):
            rewritten, report = protect_json_motion(text, settings)
        else:
            rewritten, report = protect_csv_motion(text, settings)
        out = (bom + rewritten).encode()
        return MotionResult(gzipped(out) if zipped else out, report, zipped)
