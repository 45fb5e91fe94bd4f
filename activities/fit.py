"""``track-privacy`` for FIT (Garmin's binary activity format), rewritten in place.

Written by hand, on the FIT protocol's record layout: the FIT libraries (fitdecode,
Garmin's SDK) only read, and fit-tool re-encodes from its profile, dropping developer fields
and messages it does not know. Here every message keeps its bytes and its length except the
fields changed, and the file's CRCs are computed again: what the device wrote stays valid.

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
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from fastcrc import crc16

from activities.track import TrackReport, TrackSettings, drawn, start_shift
from activities.zones import hidden_mask

__all__ = ["FIT_EPOCH", "FitError", "FitLayout", "fit_crc", "protect_fit", "walk_fit"]

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

# Base type (low 5 bits) -> (numpy element type, invalid value).
_BASE = {
    0: ("u1", 0xFF),
    1: ("i1", 0x7F),
    2: ("u1", 0xFF),
    3: ("i2", 0x7FFF),
    4: ("u2", 0xFFFF),
    5: ("i4", 0x7FFFFFFF),
    6: ("u4", 0xFFFFFFFF),
    7: ("u1", 0x00),
    8: ("u4", 0xFFFFFFFF),  # float32, by its bits
    9: ("u8", 0xFFFFFFFFFFFFFFFF),  # float64, by its bits
    10: ("u1", 0x00),
    11: ("u2", 0x0000),
    12: ("u4", 0x00000000),
    13: ("u1", 0xFF),
    14: ("i8", 0x7FFFFFFFFFFFFFFF),
    15: ("u8", 0xFFFFFFFFFFFFFFFF),
    16: ("u8", 0x0000000000000000),
}


# A base type the profile does not know: bytes, invalid as 0xFF.
_UNKNOWN_BASE = ("u1", 0xFF)


def _invalid(base: int) -> int:
    return _BASE.get(base, _UNKNOWN_BASE)[1]


class FitError(ValueError):
    """Not a FIT file, or one whose records do not add up."""


def fit_crc(data: bytes | bytearray | memoryview) -> int:
    """The FIT protocol's CRC-16 (CRC-16/ARC); fastcrc computes it in native code."""
    return crc16.arc(bytes(data))


@dataclass(frozen=True)
class _Field:
    number: int
    offset: int  # within the message's content
    size: int
    base: int

    def dtype(self, little_endian: bool) -> np.dtype | None:
        """The field's element type, when it holds elements of one size."""
        code, _ = _BASE.get(self.base, _UNKNOWN_BASE)
        dtype = np.dtype(code).newbyteorder("<" if little_endian else ">")
        return dtype if self.size % dtype.itemsize == 0 else None


@dataclass(eq=False)
class _Definition:
    global_number: int
    little_endian: bool
    fields: dict[int, _Field]
    size: int  # content bytes of a data message, developer fields included


@dataclass
class _Messages:
    """The data messages of one definition: where each one's content and header lie."""

    definition: _Definition
    starts: list[int]
    headers: list[int]
    compressed: list[bool]

    @property
    def global_number(self) -> int:
        return self.definition.global_number


@dataclass(frozen=True)
class FitLayout:
    """A FIT file's data messages, grouped by definition, and whether any uses a compressed
    timestamp header (a timestamp that depends on the messages before it)."""

    groups: list[_Messages]
    compressed_times: bool

    def of(self, *global_numbers: int) -> list[_Messages]:
        return [group for group in self.groups if group.global_number in global_numbers]


def _definition(data: bytes, position: int, has_developer: bool) -> tuple[_Definition, int]:
    if position + 5 > len(data):
        raise FitError("a definition message runs past the end")
    little = data[position + 1] == 0
    global_number = struct.unpack_from("<H" if little else ">H", data, position + 2)[0]
    count = data[position + 4]
    position += 5
    if position + 3 * count > len(data):
        raise FitError("a definition message runs past the end")
    fields, offset = {}, 0
    for _ in range(count):
        number, size, base = data[position], data[position + 1], data[position + 2]
        fields.setdefault(number, _Field(number, offset, size, base & 0x1F))
        offset, position = offset + size, position + 3
    if has_developer:
        if position >= len(data):
            raise FitError("a definition message runs past the end")
        count = data[position]
        position += 1
        offset += sum(
            data[position + 3 * i + 1] for i in range(count) if position + 3 * i + 1 < len(data)
        )
        position += 3 * count
    return _Definition(global_number, little, fields, offset), position


def _segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Each FIT file of a chain: (header start, records start, records end)."""
    position = 0
    while position < len(data):
        header_size = data[position]
        if header_size not in (12, 14) or data[position + 8 : position + 12] != b".FIT":
            raise FitError("not a FIT file: no .FIT header")
        size = struct.unpack_from("<I", data, position + 4)[0]
        end = position + header_size + size
        if end + 2 > len(data):
            raise FitError("the FIT header says more bytes than the file holds")
        yield position, position + header_size, end
        position = end + 2


def walk_fit(data: bytes) -> FitLayout:
    """Every data message of every file in the chain, grouped by definition.

    Raises:
        FitError: not FIT, or a message refers to a definition that was never given.
    """
    groups: dict[int, _Messages] = {}
    # Devices and encoders repeat the same definition: parse each distinct one once.
    parsed: dict[bytes, tuple[_Definition, int]] = {}
    compressed_any = False
    for _, start, end in _segments(data):
        local: dict[int, _Definition] = {}
        position = start
        while position < end:
            header = data[position]
            if header & 0x80:  # compressed timestamp header: a data message
                number, compressed = (header >> 5) & 0x03, True
                compressed_any = True
            elif header & 0x40:  # a definition message
                key = (
                    data[position : position + 6 + 3 * data[position + 5]]
                    if position + 5 < end
                    else b""
                )
                if header & 0x20 or key not in parsed:
                    definition, after = _definition(data, position + 1, bool(header & 0x20))
                    if not header & 0x20:
                        parsed[key] = (definition, after - position)
                else:
                    definition, length = parsed[key]
                    after = position + length
                local[header & 0x0F] = definition
                position = after
                continue
            else:
                number, compressed = header & 0x0F, False
            definition = local.get(number)
            if definition is None:
                raise FitError(f"a data message uses local type {number}, never defined")
            if position + 1 + definition.size > end:
                raise FitError("a data message runs past the end")
            group = groups.get(id(definition))
            if group is None:
                group = groups[id(definition)] = _Messages(definition, [], [], [])
            group.starts.append(position + 1)
            group.headers.append(position)
            group.compressed.append(compressed)
            position += 1 + definition.size
    return FitLayout(list(groups.values()), compressed_any)


class _Editor:
    """Reads and writes one field of many messages at once, in a copy of the file."""

    def __init__(self, data: bytes) -> None:
        self.buffer = np.frombuffer(bytearray(data), dtype=np.uint8)

    def _spot(self, group: _Messages, number: int, rows: np.ndarray | None):  # type: ignore[no-untyped-def]
        spec = group.definition.fields.get(number)
        if spec is None:
            return None
        dtype = spec.dtype(group.definition.little_endian)
        starts = np.asarray(group.starts, dtype=np.int64)
        if rows is not None:
            starts = starts[rows]
        index = starts[:, None] + spec.offset + np.arange(spec.size)
        return spec, dtype, index

    def read(self, group: _Messages, number: int) -> np.ndarray | None:
        """A one-element field of every message, as int64 (invalid values as they are);
        None when the definition has no such field."""
        spot = self._spot(group, number, None)
        if spot is None or spot[1] is None or spot[0].size != spot[1].itemsize:
            return None
        _, dtype, index = spot
        return self.buffer[index].copy().view(dtype)[:, 0].astype(np.int64)

    def read_elements(self, group: _Messages, number: int) -> np.ndarray | None:
        """Every element of a field of every message, ``(messages, elements)`` in the
        field's own type (float fields by their bits); None when the definition has no
        such field."""
        spot = self._spot(group, number, None)
        if spot is None or spot[1] is None:
            return None
        _, dtype, index = spot
        return self.buffer[index].copy().view(dtype)

    def write_elements(self, group: _Messages, number: int, values: np.ndarray) -> None:
        """Every element of a field of every message, shaped as :meth:`read_elements` gave."""
        spot = self._spot(group, number, None)
        if spot is None or spot[1] is None:
            return
        _, dtype, index = spot
        self.buffer[index] = np.ascontiguousarray(values, dtype=dtype).view(np.uint8)

    def write(self, group: _Messages, number: int, values: np.ndarray, rows: np.ndarray) -> None:
        spot = self._spot(group, number, rows)
        if spot is None or spot[1] is None or not len(rows):
            return
        _, dtype, index = spot
        self.buffer[index] = np.asarray(values).astype(dtype).reshape(-1, 1).view(np.uint8)

    def invalidate(self, group: _Messages, number: int, rows: np.ndarray | None = None) -> bool:
        """Set a field of the messages ``rows`` (all when None) to FIT's invalid value;
        True when any held something else."""
        spot = self._spot(group, number, rows)
        if spot is None or not len(spot[2]):
            return False
        spec, dtype, index = spot
        before = self.buffer[index].copy()
        if dtype is None:
            self.buffer[index] = 0xFF
        else:
            invalid = np.full(spec.size // dtype.itemsize, _invalid(spec.base), dtype=dtype)
            self.buffer[index] = invalid.view(np.uint8)
        return bool((self.buffer[index] != before).any())

    def seal(self) -> bytes:
        """The file with its header and file CRCs computed again."""
        data = bytearray(self.buffer.tobytes())
        for header, _, end in _segments(bytes(data)):
            if data[header] == 14:
                struct.pack_into("<H", data, header + 12, fit_crc(data[header : header + 12]))
            struct.pack_into("<H", data, end, fit_crc(data[header:end]))
        return bytes(data)


def _absolute(values: np.ndarray) -> np.ndarray:
    return (values >= MIN_ABSOLUTE_TIME) & (values != 0xFFFFFFFF)


def _earliest_time(editor: _Editor, layout: FitLayout) -> int | None:
    earliest = None
    for group in layout.groups:
        for number in (TIMESTAMP, *TIMES.get(group.global_number, ())):
            values = editor.read(group, number)
            if values is not None and (found := values[_absolute(values)]).size:
                earliest = int(found.min()) if earliest is None else min(earliest, int(found.min()))
    return earliest


def _shift_times(editor: _Editor, layout: FitLayout, shift: int) -> None:
    if layout.compressed_times:
        _shift_compressed_headers(editor, layout, shift)
    for group in layout.groups:
        for number in (TIMESTAMP, *TIMES.get(group.global_number, ())):
            values = editor.read(group, number)
            if values is not None:
                rows = np.flatnonzero(_absolute(values))
                editor.write(group, number, values[rows] + shift, rows)


def _shift_compressed_headers(editor: _Editor, layout: FitLayout, shift: int) -> None:
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
    for header, _, end in _segments(data):
        if fit_crc(data[header : end + 2]) != 0:
            raise FitError("the FIT file's CRC does not match: it is damaged")
    layout = walk_fit(data)
    editor = _Editor(data)
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


def _rebase_distances(editor: _Editor, layout: FitLayout) -> None:
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
