"""The ``track-privacy`` filter: an activity file with its privacy zones hidden, its device
gone and its start time coarsened, in the format it came in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from activities.fit import protect_fit
from activities.formats import gunzip_capped, gzipped, sniff_activity
from activities.gpx import protect_gpx
from activities.tcx import protect_tcx
from activities.track import TrackReport, TrackSettings

__all__ = ["ActivityResult", "TrackPrivacy"]

_BY_FORMAT = {"GPX": protect_gpx, "TCX": protect_tcx, "FIT": protect_fit}


@dataclass(frozen=True)
class ActivityResult:
    """The file to send, and what was done to it."""

    data: bytes
    report: TrackReport
    gzipped: bool


class TrackPrivacy:
    name = "track-privacy"
    description = (
        "Activity files (GPX, TCX, FIT): hides the privacy zones behind a cut that varies per "
        "upload, removes device serials and creator fields, coarsens the start time"
    )

    def apply(self, data: bytes, settings: TrackSettings) -> ActivityResult:
        """Raises ValueError when ``data`` is no activity file this filter can rewrite."""
        found = sniff_activity(data)
        if found is None:
            raise ValueError("not a GPX, TCX or FIT file")
        kind, zipped = found
        plain = gunzip_capped(data) if zipped else data
        # The upload's own seed: the same file gets the same cut, another file another one.
        seed = hashlib.sha256(plain).digest()
        out, report = _BY_FORMAT[kind](plain, settings, seed)
        return ActivityResult(gzipped(out) if zipped else out, report, zipped)
