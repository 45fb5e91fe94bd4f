"""Activity files recognised by their bytes: GPX, TCX and FIT, also gzipped (as Strava takes
them, ``.gpx.gz``)."""

from __future__ import annotations

import gzip
import re
import zlib

__all__ = ["GZIP_MAGIC", "MAX_ACTIVITY_BYTES", "gunzip_capped", "gzipped", "sniff_activity"]

# A 24-hour FIT file with every sensor is a few tens of MB; more is not an activity.
MAX_ACTIVITY_BYTES = 64 * 2**20
GZIP_MAGIC = b"\x1f\x8b"
# The root element, after an optional BOM, XML declaration, comments and whitespace.
_XML_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<(?:\w+:)?(\w+)[\s>/]",
    re.DOTALL,
)
_ROOTS = {b"gpx": "GPX", b"TrainingCenterDatabase": "TCX"}


def _sniff_plain(head: bytes) -> str | None:
    if len(head) >= 12 and head[0] in (12, 14) and head[8:12] == b".FIT":
        return "FIT"
    match = _XML_ROOT.match(head[:4096])
    return _ROOTS.get(match.group(1)) if match else None


def sniff_activity(data: bytes) -> tuple[str, bool] | None:
    """``(format, gzipped)`` of an activity file, or None.

    >>> sniff_activity(b'<?xml version="1.0"?><gpx version="1.1" creator="x"></gpx>')
    ('GPX', False)
    """
    if data.startswith(GZIP_MAGIC):
        try:  # the first bytes say what is inside, without inflating the whole file
            head = zlib.decompressobj(wbits=31).decompress(data[:65536], 4096)
        except zlib.error:
            return None
        found = _sniff_plain(head)
        return (found, True) if found else None
    found = _sniff_plain(data[:4096])
    return (found, False) if found else None


def gunzip_capped(data: bytes, limit: int = MAX_ACTIVITY_BYTES) -> bytes:
    """The gzipped file inflated, refused past ``limit`` (a gzip bomb stops there). Read as
    Python's ``gzip.decompress`` reads it: every member, zero padding after the last.

    Raises:
        ValueError: not gzip, cut short, followed by other bytes, or larger than ``limit``
            once inflated.
    """
    out, rest = bytearray(), data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as error:
            raise ValueError(f"a broken gzip file: {error}") from error
        if len(out) > limit:
            raise ValueError(f"the gzipped file inflates past {limit // 2**20} MiB")
        # A cut file inflates without an error: what it lacks would be lost unseen.
        if not inflater.eof:
            raise ValueError("a gzip file cut short")
        rest = inflater.unused_data
        if not rest.strip(b"\0"):
            return bytes(out)
        if not rest.startswith(GZIP_MAGIC):
            raise ValueError("a gzip file followed by other bytes")


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # no time in the header: it would say when
