"""The FIT protocol's record layout, for rewriting a file in place: its files, definitions
and data messages found (``walk_fit``), fields read and written for many messages at once
with numpy (``FitEditor``), and the CRCs computed again (``FitEditor.seal``).

Written by hand: the FIT libraries (fitdecode, Garmin's SDK) only read, and fit-tool
re-encodes from its profile, dropping developer fields and messages it does not know.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from fastcrc import crc16

__all__ = [
    "FitEditor",
    "FitError",
    "FitLayout",
    "MessageGroup",
    "fit_crc",
    "fit_segments",
    "walk_fit",
]


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


MessageGroup = _Messages  # what FitLayout.groups holds, for the type hints of its readers


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


def fit_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
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
    for _, start, end in fit_segments(data):
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


class FitEditor:
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

    def seal(self, drop: list[tuple[int, int]] | None = None) -> bytes:
        """The file with its header and file CRCs computed again, without the byte ranges
        ``drop`` (whole data messages: ``(header, end)``), each file's data size to match."""
        data = self.buffer.tobytes()
        cuts = sorted(drop or ())
        out = bytearray()
        for header, start, end in fit_segments(data):
            segment, position = bytearray(data[header:start]), start
            for cut_start, cut_end in cuts:
                if start <= cut_start < end:
                    segment += data[position:cut_start]
                    position = cut_end
            segment += data[position:end]
            struct.pack_into("<I", segment, 4, len(segment) - (start - header))
            if segment[0] == 14:
                struct.pack_into("<H", segment, 12, fit_crc(segment[:12]))
            out += segment + struct.pack("<H", fit_crc(segment))
        return bytes(out)
