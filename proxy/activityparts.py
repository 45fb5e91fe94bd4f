"""Activity files (GPX, TCX, FIT, gzipped or not) in an upload body: found by their bytes in
a multipart part or as the whole body, and put back after ``track-privacy``. Pure, like
``proxy.uploads``; also the audit record of a protected activity."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from activities import ActivityResult, TrackSettings, sniff_activity
from activities.drawing import draw_track
from filters import ProtectionRecord
from proxy.uploads import FoundImages, ImageSlot

__all__ = ["ActivityPart", "activity_record", "find_activities", "put_back"]

SEE_THE_DRAWING = ""  # an activity has no pixels to judge: the audit shows the drawing


@dataclass(frozen=True)
class ActivityPart:
    """An activity file of a body: ``slot`` says where (its ``format`` GPX, TCX or FIT)."""

    slot: ImageSlot
    data: bytes


def find_activities(found: FoundImages) -> list[ActivityPart]:
    """Every activity file in a body whose images ``found`` holds, in body order."""
    if found.multipart is not None:
        images = {hit.slot.index for hit in found.hits}
        parts = []
        for index, part in enumerate(found.multipart.parts):
            kind = None if index in images else sniff_activity(part.body)
            if kind is not None:
                slot = ImageSlot(
                    index, "multipart", part.name, part.filename, part.content_type, kind[0]
                )
                parts.append(ActivityPart(slot, part.body))
        return parts
    if found.hits or not found.body:
        return []
    kind = sniff_activity(found.body)
    if kind is None:
        return []
    return [ActivityPart(ImageSlot(0, "body", None, None, found.content_type, kind[0]), found.body)]


def put_back(found: FoundImages, replacements: dict[int, bytes]) -> bytes:
    """The body with each activity part (by slot index) replaced; every other byte kept."""
    if found.multipart is None:
        return replacements.get(0, found.body)
    multipart = found.multipart
    for index, data in replacements.items():
        multipart = multipart.replace_body(index, data)
    return multipart.serialize()


def activity_record(
    before: bytes, result: ActivityResult, settings: TrackSettings, elapsed_ms: float
) -> ProtectionRecord:
    """The audit record of a protected activity file: what went, and drawings of the track
    before and after with the zones."""
    report = result.report
    removed = list(report.fields_removed)
    if report.points_hidden:
        removed.insert(0, f"{report.points_hidden} of {report.points} positions (privacy zones)")
    if report.time_shift_s:
        removed.append(f"start time to the {settings.start_time}")
    frame = report.before
    return ProtectionRecord(
        sha256_before=hashlib.sha256(before).hexdigest(),
        sha256_after=hashlib.sha256(result.data).hexdigest(),
        size_before=len(before),
        size_after=len(result.data),
        width=320,
        height=240,
        metadata_removed=removed,
        label_before=None,
        confidence_before=None,
        label_after=None,
        confidence_after=None,
        ssim=None,
        psnr=None,
        ciede2000=None,
        ssimulacra2=None,
        butteraugli=None,
        platform_ssimulacra2=None,
        platform_butteraugli=None,
        visibility=SEE_THE_DRAWING,
        elapsed_ms=elapsed_ms,
        thumb_before=draw_track(report.before, settings.zones, frame),
        thumb_after=draw_track(report.after, settings.zones, frame),
    )
