"""``track-privacy`` for FIT (Garmin's binary activity format), rewritten in place
(``activities.fitfile``): every message keeps its bytes and its length except the fields
changed, and the file's CRCs are computed again, so what the device wrote stays valid.

- Positions inside a hidden area become FIT's "invalid" (no fix), with that record's
  altitude and distance; the record itself stays, with its heart rate, cadence and power.
- Distances count from the first kept position, not from home.
- Bounding boxes (which would contain home) go; lap and session start/end positions go
  where they fall inside a hidden area.
- Device serial numbers, product names and the creator's versions go.
- Hidden records lose their speed too (pace x time is a distance).
- The activity begins at the first kept record and ends at the last (``fit_span``): the
  records before and after go, other times are clamped into that span, and lap and session
  totals are recomputed, so that nothing tells how long or how far the hidden ends were.
- Every absolute time moves by one shift that coarsens the (kept) start (compressed
  timestamp headers follow), so order and durations within the span stay.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from activities.fit_span import (
    ACTIVITY,
    EVENT,
    LAP,
    MIN_ABSOLUTE_TIME,
    RECORD,
    SESSION,
    TIMESTAMP,
    Ordered,
    Span,
    ordered_times,
    summaries,
    trim,
)
from activities.fitfile import FitEditor, FitError, FitLayout, fit_crc, fit_segments, walk_fit
from activities.track import TrackReport, TrackSettings, drawn, start_shift
from activities.zones import hidden_mask

__all__ = ["FIT_EPOCH", "FitError", "fit_crc", "protect_fit"]

FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
# Below this a date_time counts seconds since the device started, not since FIT_EPOCH.
SEMICIRCLES = 180.0 / 2**31  # degrees per semicircle

# Global message numbers and field numbers, from the FIT profile.
FILE_ID, FILE_CREATOR, DEVICE_INFO = 0, 49, 23
COURSE_POINT, GPS_METADATA, SEGMENT_POINT = 32, 160, 150
# (latitude, longitude) field pairs hidden when they fall inside an area.
POSITIONS = {
    RECORD: ((0, 1),),
    LAP: ((3, 4), (5, 6)),
    SESSION: ((3, 4), (5, 6)),
    COURSE_POINT: ((2, 3),),
    GPS_METADATA: ((1, 2),),
    SEGMENT_POINT: ((1, 2),),
}
# Fields that always go: bounding boxes, device identity, the creator's versions.
ALWAYS_INVALID = {
    LAP: {27: "bounding box", 28: "bounding box", 29: "bounding box", 30: "bounding box"},
    SESSION: {29: "bounding box", 30: "bounding box", 31: "bounding box", 32: "bounding box"},
    FILE_ID: {3: "device serial", 8: "product name"},
    DEVICE_INFO: {3: "device serial", 27: "product name"},
    FILE_CREATOR: {0: "creator version", 1: "creator version"},
}
# A hidden record loses these too: its altitude and distance say where it was, its speed
# (with the time it took) how far.
RECORD_WITH_POSITION = {
    2: "altitude",
    5: "distance",
    78: "altitude",
    6: "speed",
    73: "speed",
    17: "speed",
    8: "speed",
}
RECORD_DISTANCE = 5
# Counted up from the start like the distance: total_cycles, accumulated_power.
RECORD_COUNTERS = (RECORD_DISTANCE, 19, 29)
# date_time fields besides the timestamp (253) every message may carry (the activity's
# local_timestamp moves with its timestamp: it is local time).
TIMES = {FILE_ID: (4,), LAP: (2,), SESSION: (2,), EVENT: (15,)}
LOCAL_TIMESTAMP = 5


def _absolute(values: np.ndarray) -> np.ndarray:
    return (values >= MIN_ABSOLUTE_TIME) & (values != 0xFFFFFFFF)


def _earliest_time(editor: FitEditor, layout: FitLayout) -> int | None:
    earliest = None
    for group in layout.groups:
        for number in (TIMESTAMP, *TIMES.get(group.global_number, ())):
            values = editor.read(group, number)
            if values is not None and (found := values[_absolute(values)]).size:
                earliest = int(found.min()) if earliest is None else min(earliest, int(found.min()))
    return earliest


def _retime(
    editor: FitEditor, layout: FitLayout, ordered: Ordered, span: Span | None, shift: int
) -> None:
    """Every absolute time clamped into the kept span (when there is one) and shifted."""

    def moved(values: np.ndarray) -> np.ndarray:
        return (values if span is None else span.clamp(values)) + shift

    for group in layout.groups:
        # The activity's local time moves as its timestamp did: read before that is rewritten.
        stamps = editor.read(group, TIMESTAMP) if group.global_number == ACTIVITY else None
        for number in (TIMESTAMP, *TIMES.get(group.global_number, ())):
            values = editor.read(group, number)
            if values is not None:
                rows = np.flatnonzero(_absolute(values))
                editor.write(group, number, moved(values[rows]), rows)
        local = editor.read(group, LOCAL_TIMESTAMP) if group.global_number == ACTIVITY else None
        if local is not None:
            delta = np.full(len(local), shift)
            if stamps is not None:
                known = _absolute(stamps)
                delta[known] = moved(stamps[known]) - stamps[known]
            rows = np.flatnonzero(_absolute(local))
            editor.write(group, LOCAL_TIMESTAMP, local[rows] + delta[rows], rows)
    if layout.compressed_times:
        # A compressed header holds the low 5 bits of its time, counted from the last full
        # timestamp before it: clamping and shifting keep that count within 0..31.
        for header, group, row, stamp in ordered:
            if group.compressed[row] and stamp is not None:
                byte = int(editor.buffer[header])
                new = int(moved(np.array([stamp]))[0])
                editor.buffer[header] = (byte & 0xE0) | (new & 0x1F)


def protect_fit(data: bytes, settings: TrackSettings, seed: bytes) -> tuple[bytes, TrackReport]:
    """The FIT file with the zones hidden, the device gone and the start coarsened.

    Raises:
        FitError: not a FIT file, or a broken one (its CRC or its records).
    """
    for header, _, end in fit_segments(data):
        if fit_crc(data[header : end + 2]) != 0:
            raise FitError("the FIT file's CRC does not match: it is damaged")
    layout = walk_fit(data)
    editor = FitEditor(data)
    ordered = ordered_times(editor, layout)  # before any time changes
    report = TrackReport("FIT")
    for group in layout.groups:
        for number, what in ALWAYS_INVALID.get(group.global_number, {}).items():
            if editor.invalidate(group, number):
                report.removed(what)
    areas = settings.areas(seed)
    track: list[tuple[int, float, float, bool]] = []  # records: (start, lat, lon, hidden)
    for group in layout.groups:
        for lat_field, lon_field in POSITIONS.get(group.global_number, ()):
            lat, lon = editor.read(group, lat_field), editor.read(group, lon_field)
            if lat is None or lon is None:
                continue
            rows = np.flatnonzero((lat != 0x7FFFFFFF) & (lon != 0x7FFFFFFF))
            lat_deg, lon_deg = lat[rows] * SEMICIRCLES, lon[rows] * SEMICIRCLES
            hidden = hidden_mask(areas, lat_deg, lon_deg)
            gone = rows[hidden]
            editor.invalidate(group, lat_field, gone)
            editor.invalidate(group, lon_field, gone)
            if group.global_number == RECORD:
                for number in RECORD_WITH_POSITION:
                    editor.invalidate(group, number, gone)
                starts = np.asarray(group.starts)[rows]
                track += zip(
                    starts.tolist(),
                    lat_deg.tolist(),
                    lon_deg.tolist(),
                    hidden.tolist(),
                    strict=True,
                )
    track.sort()
    report.points = len(track)
    report.points_hidden = sum(1 for point in track if point[3])
    report.before = [[(lat, lon) for _, lat, lon, _ in track]]
    report.after = _kept_lines(track)
    span, drop = _cut_to_span(editor, layout, ordered, settings, track, report)
    _rebase_counters(editor, layout, span.first if span else 0)
    earliest = span.start if span else _earliest_time(editor, layout)
    shift = 0
    if earliest is not None:
        start = FIT_EPOCH + dt.timedelta(seconds=earliest)
        shift = int(start_shift(start, settings.start_time).total_seconds())
        report.time_shift_s = float(shift)
    if shift or span:
        _retime(editor, layout, ordered, span, shift)
    report.before, report.after = drawn(report.before), drawn(report.after)
    return editor.seal(drop), report


def _cut_to_span(
    editor: FitEditor,
    layout: FitLayout,
    ordered: Ordered,
    settings: TrackSettings,
    track: list[tuple[int, float, float, bool]],
    report: TrackReport,
) -> tuple[Span | None, list[tuple[int, int]]]:
    """The kept span, when zones are set and a position is kept (a record before the first
    fix also tells how long the start took), and the messages outside it that go."""
    kept = [start - 1 for start, _, _, hidden in track if not hidden]
    if not settings.zones or not kept:
        return None, []
    span, drop = trim(editor, layout, ordered, kept)
    if span is None:
        return None, []
    drop += summaries(editor, layout, ordered, span)
    times = [stamp for _, _, _, stamp in ordered if stamp is not None]
    if drop or (times and (min(times) < span.start or max(times) > span.end)):
        report.removed("time in hidden area")
    return span, drop


def _kept_lines(track: list[tuple[int, float, float, bool]]) -> list[list[tuple[float, float]]]:
    lines: list[list[tuple[float, float]]] = [[]]
    for _, lat, lon, hidden in track:
        if hidden:
            if lines[-1]:
                lines.append([])
        else:
            lines[-1].append((lat, lon))
    return [line for line in lines if line]


def _rebase_counters(editor: FitEditor, layout: FitLayout, after: int) -> None:
    """Distances (and other counts from the start) count from the first record at or after
    ``after`` (a header offset) that still has one (hidden records lost theirs), not from
    home."""
    for number in RECORD_COUNTERS:
        first = None
        for group in layout.of(RECORD):
            values = editor.read(group, number)
            if values is None:
                continue
            valid = np.flatnonzero((values != 0xFFFFFFFF) & (np.array(group.headers) >= after))
            if len(valid):
                candidate = (group.starts[valid[0]], int(values[valid[0]]))
                first = candidate if first is None else min(first, candidate)
        if first is None:
            continue
        for group in layout.of(RECORD):
            values = editor.read(group, number)
            if values is not None:
                rows = np.flatnonzero(values != 0xFFFFFFFF)
                editor.write(group, number, np.maximum(0, values[rows] - first[1]), rows)
