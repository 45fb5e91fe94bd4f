"""Activity files (GPX, TCX, FIT) and accelerometer sensor uploads (CSV, JSON), gzipped or
not, in an upload body: found by their bytes in a multipart part or as the whole body, run
through the policy's activity filters, and put back. Pure, like ``proxy.uploads``; the audit
record of each lives in ``proxy.activityrecords``."""

from __future__ import annotations

import time
from dataclasses import dataclass

from activities import MotionAnonymise, TrackPrivacy, TrackSettings, sniff_activity
from activities.motion_sniff import sniff_sensor
from filters import ProtectionRecord
from proxy.activityrecords import activity_record
from proxy.headers import parse_header_params
from proxy.uploads import FoundImages, ImageSlot

__all__ = ["ActivityPart", "ProtectedPart", "find_activities", "protect_activities", "put_back"]

TRACK_FORMATS = frozenset({"GPX", "TCX", "FIT"})  # what track-privacy rewrites
MOTION_FORMATS = frozenset({"FIT", "CSV", "JSON"})  # what motion-anonymise rewrites
# A sensor upload is looked at only when it says it is a table, JSON or gzip (or is named
# so): the cheap check before reading it. Whether it is one is for its bytes to say.
SENSOR_MEDIA_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "text/comma-separated-values",
        "application/gzip",
        "application/x-gzip",
    }
)
SENSOR_SUFFIXES = (".csv", ".json", ".csv.gz", ".json.gz")


@dataclass(frozen=True)
class ActivityPart:
    """An activity file of a body: ``slot`` says where (its ``format`` GPX, TCX, FIT, or
    CSV or JSON for a sensor upload)."""

    slot: ImageSlot
    data: bytes


@dataclass(frozen=True)
class ProtectedPart:
    """``data``: the part as it leaves; ``record``: its audit record, None when no filter
    applied to it (a GPX under motion-anonymise alone, a FIT without accelerometer data)."""

    part: ActivityPart
    data: bytes
    record: ProtectionRecord | None


def _maybe_sensor(content_type: str | None, filename: str | None) -> bool:
    media_type = parse_header_params(content_type)[0] if content_type else ""
    return (
        media_type in SENSOR_MEDIA_TYPES
        or media_type.endswith(("/json", "+json"))
        or (filename or "").lower().endswith(SENSOR_SUFFIXES)
    )


def _kind(data: bytes, content_type: str | None, filename: str | None, sensors: bool) -> str | None:
    """GPX, TCX or FIT by the bytes; with ``sensors``, CSV or JSON clearly holding an
    accelerometer stream."""
    found = sniff_activity(data)
    if found is not None:
        return found[0]
    if sensors and _maybe_sensor(content_type, filename):
        return sniff_sensor(data, [filename] if filename else [])
    return None


def find_activities(found: FoundImages, sensors: bool = False) -> list[ActivityPart]:
    """Every activity file in a body whose images ``found`` holds, in body order; with
    ``sensors`` (motion-anonymise is on), accelerometer CSV and JSON uploads too."""
    if found.multipart is not None:
        images = {hit.slot.index for hit in found.hits}
        parts = []
        for index, part in enumerate(found.multipart.parts):
            if index in images:
                continue
            kind = _kind(part.body, part.content_type, part.filename, sensors)
            if kind is not None:
                slot = ImageSlot(
                    index, "multipart", part.name, part.filename, part.content_type, kind
                )
                parts.append(ActivityPart(slot, part.body))
        return parts
    if found.hits or not found.body:
        return []
    kind = _kind(found.body, found.content_type, None, sensors)
    if kind is None:
        return []
    return [ActivityPart(ImageSlot(0, "body", None, None, found.content_type, kind), found.body)]


def put_back(found: FoundImages, replacements: dict[int, bytes]) -> bytes:
    """The body with each activity part (by slot index) replaced; every other byte kept."""
    if found.multipart is None:
        return replacements.get(0, found.body)
    multipart = found.multipart
    for index, data in replacements.items():
        multipart = multipart.replace_body(index, data)
    return multipart.serialize()


def protect_activities(
    parts: list[ActivityPart], track: TrackSettings | None, motion: bool
) -> list[ProtectedPart]:
    """Each part through ``track-privacy`` (with ``track``, the zones) and then
    ``motion-anonymise`` (with ``motion``), where they apply to its format.

    Raises:
        ValueError: a part neither could rewrite, saying which format (the failure rule).
    """
    return [_protect_one(part, track, motion) for part in parts]


def _protect_one(part: ActivityPart, track: TrackSettings | None, motion: bool) -> ProtectedPart:
    started = time.perf_counter()
    data, kind = part.data, part.slot.format
    tracked = moved = None
    try:
        if track is not None and kind in TRACK_FORMATS:
            tracked = TrackPrivacy().apply(data, track)
            data = tracked.data
        if motion and kind in MOTION_FORMATS:
            moved = MotionAnonymise().apply(data)
            # A FIT file without accelerometer or gyroscope data: nothing to do, not a failure.
            if moved.report.samples or moved.report.fields_removed:
                data = moved.data
            else:
                moved = None
    except ValueError as error:
        raise ValueError(f"cannot protect the {kind} file: {error}") from error
    if tracked is None and moved is None:
        return ProtectedPart(part, part.data, None)
    elapsed_ms = (time.perf_counter() - started) * 1000
    record = activity_record(
        part.data,
        data,
        elapsed_ms,
        track=tracked,
        settings=track,
        motion=moved.report if moved else None,
    )
    return ProtectedPart(part, data, record)
