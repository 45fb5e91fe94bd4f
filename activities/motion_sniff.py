"""Whether a text upload clearly is an accelerometer stream for ``motion-anonymise``: a CSV
file whose header has x, y and z accelerometer columns (as :mod:`activities.motion_tables`
reads them, bare ``x,y,z`` included: phone sensor loggers write those), or JSON holding such
a stream that something in it, or its file name, calls an accelerometer; gzipped too
(``.csv.gz``). Bare ``x, y, z`` in JSON is not enough: ordinary API calls carry points and
vectors so named.

Pure and cheap: no torch, nothing rewritten, and no error for what is not sensor data.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Sequence
from typing import Any

from activities.formats import GZIP_MAGIC, gunzip_capped
from activities.motion_json import sample_stream
from activities.motion_tables import accel_axes, csv_dialect

__all__ = ["sniff_sensor"]

HEAD_BYTES = 4096  # a CSV header lies within them
# accel..., acc_x, accX, ACC; not "account", "ACCURACY" or "userAccount".
_ACCEL_WORD = re.compile(r"(?i:accel)|(?:^|[^a-zA-Z])(?i:acc)(?![a-wA-W])")
# What the walk for a name looks at: a stream repeats its keys, the first items say it.
ITEMS_PER_LIST, MAX_NODES = 8, 2000
MAX_NAME_CHARS = 64  # a string value longer than this is data, not a name


def sniff_sensor(data: bytes, names: Sequence[str] = ()) -> str | None:
    """``"CSV"`` or ``"JSON"`` when ``data`` clearly holds an accelerometer stream, gzipped
    or not, else None.

    ``names``: what the upload calls itself (a file name), which may name the sensor.

    >>> sniff_sensor(b"time,accX,accY,accZ\\n0,0.1,0.2,0.98\\n")
    'CSV'
    >>> sniff_sensor(b'{"x": [1, 2], "y": [3, 4], "z": [5, 6]}') is None
    True
    """
    if data.startswith(GZIP_MAGIC):
        return _gzipped_stream(data, names)
    return _plain_stream(data, names, _head(data))


def _head(data: bytes) -> str:
    return data[:HEAD_BYTES].decode("utf-8-sig", errors="ignore")  # cut mid-character


def _plain_stream(data: bytes, names: Sequence[str], head: str) -> str | None:
    start = head.lstrip()[:1]
    if not start:
        return None
    if start in ("{", "["):
        return "JSON" if _json_stream(data, names) else None
    return "CSV" if _csv_stream(head) else None


def _gzipped_stream(data: bytes, names: Sequence[str]) -> str | None:
    """A gzipped upload by its inflated head, as :func:`activities.formats.sniff_activity`
    reads gzip: a CSV head says enough, and what follows it, broken or too large, is the
    filter's to refuse. JSON is judged whole, so it is inflated whole (capped)."""
    try:
        head = _head(zlib.decompressobj(wbits=31).decompress(data[:65536], HEAD_BYTES))
    except zlib.error:
        return None  # no gzip after all: nothing says sensor data
    if head.lstrip()[:1] not in ("{", "["):
        return "CSV" if _csv_stream(head) else None
    try:
        plain = gunzip_capped(data)
    except ValueError:
        # Unreadable JSON that names an accelerometer gets the failure rule, not a pass.
        said = any(_ACCEL_WORD.search(text) for text in (*names, head))
        return "JSON" if said else None
    return _plain_stream(plain, names, _head(plain))


def _csv_stream(head: str) -> bool:
    """A header naming accelerometer axes, and a row after it."""
    try:
        rows = csv.reader(io.StringIO(head), csv_dialect(head))
        header = next(rows, [])
        return accel_axes(header) is not None and any(
            any(cell.strip() for cell in row) for row in rows
        )
    except csv.Error:
        return False


def _json_stream(data: bytes, names: Sequence[str]) -> bool:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False  # not JSON: not clearly sensor data either
    if sample_stream(document) is None:
        return False
    return any(_ACCEL_WORD.search(name) for name in names) or _names_accelerometer(document)


def _names_accelerometer(document: Any) -> bool:
    """A key or a short string value in ``document`` says accelerometer (``"accel"``,
    ``"acc_x"``, ``"sensor": "Accelerometer"``...), breadth first and bounded."""
    queue, seen = [document], 0
    while queue and seen < MAX_NODES:
        node = queue.pop(0)
        seen += 1
        if isinstance(node, dict):
            if any(isinstance(key, str) and _ACCEL_WORD.search(key) for key in node):
                return True
            queue.extend(value for value in node.values() if isinstance(value, dict | list | str))
        elif isinstance(node, list):
            queue.extend(node[:ITEMS_PER_LIST])
        elif isinstance(node, str) and len(node) <= MAX_NAME_CHARS and _ACCEL_WORD.search(node):
            return True
    return False
