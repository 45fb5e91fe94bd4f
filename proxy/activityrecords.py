"""The audit record of a protected activity file or sensor upload: what went, and pictures
before and after: the track with the privacy zones (``track-privacy``), a few seconds of
the accelerometer's magnitude (``motion-anonymise``), or both, one above the other."""

from __future__ import annotations

import hashlib

from activities import ActivityResult, MotionReport, TrackSettings
from activities.drawing import SIZE, draw_track
from activities.motion_drawing import STRIP_SIZE, below, draw_motion
from filters import ProtectionRecord

__all__ = ["activity_record", "motion_removed", "track_removed"]

SEE_THE_DRAWING = ""  # an activity has no pixels to judge: the audit shows the drawing


def track_removed(result: ActivityResult, settings: TrackSettings) -> list[str]:
    report = result.report
    removed = list(report.fields_removed)
    if report.points_hidden:
        removed.insert(0, f"{report.points_hidden} of {report.points} positions (privacy zones)")
    if report.time_shift_s:
        removed.append(f"start time to the {settings.start_time}")
    return removed


def motion_removed(report: MotionReport) -> list[str]:
    removed = []
    if report.samples:
        removed.append(
            f"{report.samples} accelerometer samples anonymised "
            f"(RMS change {report.rms_change_g:.2f} g)"
        )
    removed += [f"{name} data" for name in report.fields_removed]  # "gyroscope data"
    return removed


def _pictures(
    track: ActivityResult | None, settings: TrackSettings | None, motion: MotionReport | None
) -> tuple[bytes, bytes]:
    pictures: list[tuple[bytes, bytes]] = []
    if track is not None and settings is not None:
        frame = track.report.before
        pictures.append(
            (
                draw_track(track.report.before, settings.zones, frame),
                draw_track(track.report.after, settings.zones, frame),
            )
        )
    if motion is not None and motion.trace_before:
        size = STRIP_SIZE if pictures else SIZE  # under the track, or the whole picture
        frame = [motion.trace_before, motion.trace_after]
        pictures.append(
            (
                draw_motion(motion.trace_before, frame, size),
                draw_motion(motion.trace_after, frame, size),
            )
        )
    if len(pictures) == 2:
        (track_before, track_after), (motion_before, motion_after) = pictures
        return below(track_before, motion_before), below(track_after, motion_after)
    if pictures:
        return pictures[0]
    return b"", b""  # only gyroscope data went: nothing to draw, no thumbnails


def activity_record(
    before: bytes,
    after: bytes,
    elapsed_ms: float,
    *,
    track: ActivityResult | None = None,
    settings: TrackSettings | None = None,
    motion: MotionReport | None = None,
) -> ProtectionRecord:
    """The audit record of one activity file or sensor upload, ``track``: what
    ``track-privacy`` did (with the ``settings`` it had), ``motion``: what
    ``motion-anonymise`` did; either may be None."""
    removed: list[str] = []
    if track is not None and settings is not None:
        removed += track_removed(track, settings)
    if motion is not None:
        removed += motion_removed(motion)
    thumb_before, thumb_after = _pictures(track, settings, motion)
    return ProtectionRecord(
        sha256_before=hashlib.sha256(before).hexdigest(),
        sha256_after=hashlib.sha256(after).hexdigest(),
        size_before=len(before),
        size_after=len(after),
        width=SIZE[0],
        height=SIZE[1],
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
        thumb_before=thumb_before,
        thumb_after=thumb_after,
    )
