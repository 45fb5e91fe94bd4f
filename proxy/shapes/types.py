"""What the text shapes report: where an embedded image sits and how to write a new one there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EmbeddedImage", "splice"]


@dataclass(frozen=True)
class EmbeddedImage:
    """One image found inside a text body.

    Attributes:
        start: offset of the first byte of the value in the body.
        end: offset just past the value.
        field_name: the JSON key or form field that holds it.
        data: the image file's bytes, decoded.
        format: the format sniffed from ``data``.
        render: turns new image bytes into the value's new text, in the original's style.
        encoding: ``"base64"`` (base64 text or a data URL) or ``"binary"`` (percent-encoded).
    """

    start: int
    end: int
    field_name: str | None
    data: bytes
    format: str
    render: Callable[[bytes], bytes]
    encoding: str = "base64"


def splice(body: bytes, replacements: list[tuple[int, int, bytes]]) -> bytes:
    """``body`` with each (start, end) span replaced; spans must not overlap.

    >>> splice(b"abcdef", [(4, 5, b"E"), (0, 1, b"AA")])
    b'AAbcdEf'
    """
    out: list[bytes] = []
    cursor = 0
    for start, end, new in sorted(replacements):
        if start < cursor:
            raise ValueError("overlapping replacements")
        out += [body[cursor:start], new]
        cursor = end
    out.append(body[cursor:])
    return b"".join(out)
