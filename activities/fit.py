"""``track-privacy`` for FIT (Garmin's binary activity format), rewritten in place
(``activities.fitfile``): every message keeps its bytes and its length except the fields
changed, and the file's CRCs are computed again, so what the device wrote stays valid.

- Positions inside a hidden area become FIT's "invalid" (no fix), with that record's
  altitude and distance; the record itself stays, with its heart rate, cadence and power.
- Distances count from the first kept position, not from home.
- Bounding boxes (which would contain home) go; lap and session start/end positions go
  where they fall inside a hidden area.
- Device serial numbers, product names and the creator's versions go.
- Every absolute time moves by one shift that coarsens the start (compressed timestamp
  headers follow), so order and durations stay.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from activities.fitfile import FitEditor, FitError, FitLayout, fit_crc, fit_segments, walk_fit
from activities.track import TrackReport, TrackSettings, drawn, start_shift
from activities.zones import hidden_mask

__all__ = ["FIT_EPOCH", "FitError", "fit_crc", "protect_fit"]

FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
# Below this a date_time counts seconds since the device started, not since FIT_EPOCH.
MIN_ABSOLUTE_TIME = 0x10000000
SEMICIRCLES = 180.0 / 2**31  # degrees per semicircle

# Global message numbers and field numbers, from the FIT profile.
FILE_ID, FILE_CREATOR, DEVICE_INFO = 0, 49, 23
RECORD, LAP, SESSION, ACTIVITY = 20, 19, 18, 34
COURSE_POINT, GPS_METADATA, SEGMENT_POINT = 32, 160, 150
TIMESTAMP = 253
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
# A hidden record loses these too: its altitude and distance say where it was.
RECORD_WITH_POSITION = {2: "altitude", 5: "distance", 78: "altitude"}
RECORD_DISTANCE = 5
# date_time fields besides the timestamp (253) every message may carry.
TIMES = {FILE_ID: (4,), LAP: (2,), SESSION: (2,), ACTIVITY: (5,)}


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


def _shift_times(editor: FitEditor, layout: FitLayout, shift: int) -> None:
    if layout.compressed_times:
        _shift_compressed_headers(editor, layout, shift)
    for group in layout.groups:
        for number in (TIMESTAMP, *TIMES.get(group.global_number, ())):
            values = editor.read(group, number)
            if values is not None:
                rows = np.flatnonzero(_absolute(values))
                editor.write(group, number, values[rows] + shift, rows)


def _shift_compressed_headers(editor: FitEditor, layout: FitLayout, shift: int) -> None:
    """A compressed header holds the low 5 bits of its time, counted from the last full
    timestamp before it: walk the messages in file order to rewrite them."""
    order = []
    for group in layout.groups:
        stamps = editor.read(group, TIMESTAMP)
        for row, (header, compressed) in enumerate(
            zip(group.headers, group.compressed, strict=True)
        ):
            stamp = int(stamps[row]) if stamps is not None else None
            order.append((header, compressed, stamp))
    last = None
    for header, compressed, stamp in sorted(order):
        if compressed and last is not None:
            byte = int(editor.buffer[header])
            last += ((byte & 0x1F) - (last & 0x1F)) & 0x1F
            editor.buffer[header] = (byte & 0xE0) | ((last + shift) & 0x1F)
        elif stamp is not None and MIN_ABSOLUTE_TIME <= stamp != 0xFFFFFFFF:
            last = stamp


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
    _rebase_distances(editor, layout)
    earliest = _earliest_time(editor, layout)
    if earliest is not None:
        start = FIT_EPOCH + dt.timedelta(seconds=earliest)
        shift = int(start_shift(start, settings.start_time).total_seconds())
        if shift:
            _shift_times(editor, layout, shift)
            report.time_shift_s = float(shift)
    report.before, report.after = drawn(report.before), drawn(report.after)
    return editor.seal(), report


def _kept_lines(track: list[tuple[int, float, float, bool]]) -> list[list[tuple[float, float]]]:
    lines: list[list[tuple[float, float]]] = [[]]
    for _, lat, lon, hidden in track:
        if hidden:
            if lines[-1]:
                lines.append([])
        else:
            lines[-1].append((lat, lon))
    return [line for line in lines if line]


def _rebase_distances(editor: FitEditor, layout: FitLayout) -> None:
    """Distances count from the first record that still has one (hidden records lost
    theirs), not from home."""
    first = None
    for group in layout.of(RECORD):
        values = editor.read(group, RECORD_DISTANCE)
        if values is None:
            continue
        valid = values != 0xFFFFFFFF
        if valid.any():
            row = int(np.flatnonzero(valid)[0])
            candidate = (group.starts[row], int(values[row]))
            first = candidate if first is None else min(first, candidate)
    if first is None:
        return
    for group in layout.of(RECORD):
        values = editor.read(group, RECORD_DISTANCE)
        if values is not None:
            rows = np.flatnonzero(values != 0xFFFFFFFF)
            editor.write(group, RECORD_DISTANCE, np.maximum(0, values[rows] - first[1]), rows)
