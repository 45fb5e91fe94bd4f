"""Activity files (GPX, TCX, FIT) and what protects them, registered by name as the image
filters are in ``filters``. Pure: no HTTP; the proxy finds the files and calls these."""

from __future__ import annotations

from activities.formats import sniff_activity
from activities.motion import MotionAnonymise, MotionReport, MotionResult, MotionSettings
from activities.track import TrackReport, TrackSettings
from activities.track_privacy import ActivityResult, TrackPrivacy

__all__ = [
    "ACTIVITY_FILTERS",
    "ActivityResult",
    "MotionAnonymise",
    "MotionReport",
    "MotionResult",
    "MotionSettings",
    "TrackPrivacy",
    "TrackReport",
    "TrackSettings",
    "describe_activity_filters",
    "sniff_activity",
]

ACTIVITY_FILTERS: dict[str, type[TrackPrivacy] | type[MotionAnonymise]] = {
    TrackPrivacy.name: TrackPrivacy,
    MotionAnonymise.name: MotionAnonymise,
}


def describe_activity_filters() -> list[dict[str, str]]:
    """Name and one-line description of each activity filter, for the API and the CLI."""
    return [
        {"name": name, "description": cls.description} for name, cls in ACTIVITY_FILTERS.items()
    ]
