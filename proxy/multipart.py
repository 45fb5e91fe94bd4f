"""Byte-exact multipart parsing and rebuilding (RFC 2046 framing, RFC 7578 form data).

mitmproxy's own multipart helpers drop CR/LF bytes from binary parts and lose ``filename=``,
so uploads are parsed here into raw slices: serializing an unmodified parse gives back the
identical bytes, and replacing one part's body leaves every other byte where it was.
Pure Python; imports nothing from mitmproxy.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import cached_property

from proxy.headers import parse_header_params

__all__ = [
    "MalformedBody",
    "Multipart",
    "Part",
    "boundary_from_content_type",
    "parse_form",
    "parse_multipart",
]

# RFC 2046 allows 1-70 characters; real clients stay well below, so a longer one is a bad header.
MAX_BOUNDARY_LENGTH = 200
_PADDING = b" \t"  # RFC 2046 transport-padding: linear whitespace after a delimiter


class MalformedBody(ValueError):
    """A body that claims to be multipart but cannot be split into parts."""


def boundary_from_content_type(content_type: str) -> str:
    """The boundary of a ``multipart/*`` Content-Type (quoted or not, any parameter case).

    Raises:
        MalformedBody: the type is not multipart or its boundary is absent or invalid.

    >>> boundary_from_content_type('multipart/form-data; BOUNDARY="a b"')
    'a b'
    """
    media_type, params = parse_header_params(content_type)
    if not media_type.startswith("multipart/"):
        raise MalformedBody(f"not a multipart Content-Type: {content_type!r}")
    boundary = params.get("boundary", "")
    if not boundary:
        raise MalformedBody(f"multipart Content-Type without a boundary: {content_type!r}")
    _boundary_bytes(boundary)
    return boundary


def _boundary_bytes(boundary: str) -> bytes:
    """The boundary as it appears in the body (header values are Latin-1 on the wire)."""
    if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH or "\r" in boundary or "\n" in boundary:
        raise MalformedBody(f"invalid multipart boundary: {boundary!r}")
    try:
        return boundary.encode("latin-1")
    except UnicodeEncodeError:
        raise MalformedBody(f"invalid multipart boundary: {boundary!r}") from None


def _decode_header_bytes(raw: bytes) -> str:
    # Browsers send field and file names as raw UTF-8; very old clients used Latin-1.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass(frozen=True)
class Part:
    """One body part as raw slices: ``delimiter + head + body`` are its exact bytes.

    Attributes:
        delimiter: the delimiter line that opens the part, its line break included.
        head: the header lines and the blank line that ends them (empty when absent).
        body: the part's content.
    """

    delimiter: bytes
    head: bytes
    body: bytes

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """Header fields as (lower-cased name, value), folded lines joined."""
        fields: list[tuple[str, str]] = []
        for line in re.split(r"\r?\n", _decode_header_bytes(self.head)):
            if line[:1] in (" ", "\t") and fields:  # obsolete line folding
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip()}")
            elif ":" in line:
                name, _, value = line.partition(":")
                fields.append((name.strip().lower(), value.strip()))
        return tuple(fields)

    def header(self, name: str) -> str | None:
        """The first header field called ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    @cached_property
    def _disposition(self) -> dict[str, str]:
        value = self.header("content-disposition")
        return parse_header_params(value)[1] if value is not None else {}

    @property
    def name(self) -> str | None:
        """The form field name from Content-Disposition."""
        return self._disposition.get("name")

    @property
    def filename(self) -> str | None:
        """The file name from Content-Disposition (``filename*`` preferred)."""
        return self._disposition.get("filename")

    @property
    def content_type(self) -> str | None:
        """The part's media type, lower-cased, without parameters."""
        value = self.header("content-type")
        return parse_header_params(value)[0] if value is not None else None

    def to_bytes(self) -> bytes:
        """The part's exact bytes, delimiter line included."""
        return self.delimiter + self.head + self.body


@dataclass(frozen=True)
class Multipart:
    """A parsed multipart body; ``serialize()`` of an unmodified parse is the original body."""

    boundary: str
    newline: bytes  # b"\r\n", or b"\n" for clients that frame with bare line feeds
    preamble: bytes
    parts: tuple[Part, ...]
    close: bytes  # the close delimiter: line break + "--" + boundary + "--"
    epilogue: bytes  # everything after the close delimiter (padding, line break, text)

    def serialize(self) -> bytes:
        """The body's bytes."""
        pieces = [self.preamble, *(part.to_bytes() for part in self.parts)]
        return b"".join([*pieces, self.close, self.epilogue])

    def replace_body(self, index: int, body: bytes) -> Multipart:
        """A copy whose part ``index`` carries ``body``; every other byte is unchanged.

        Raises:
            IndexError: no part ``index``.
            MalformedBody: ``body`` contains the delimiter, so it would split the part.
        """
        part = self.parts[index]
        delimiter = self.newline + b"--" + _boundary_bytes(self.boundary)
        if delimiter in self.newline + body:
            raise MalformedBody(f"new body of part {index} contains the multipart boundary")
        head = part.head
        if not part.head.endswith(self.newline * 2) and part.head != self.newline:
            # A part without a blank line has headers only: add the separator a body needs.
            head += self.newline if head.endswith(self.newline) or not head else self.newline * 2
        parts = list(self.parts)
        parts[index] = dataclasses.replace(part, head=head, body=bytes(body))
        return dataclasses.replace(self, parts=tuple(parts))


def _delimiter_end(body: bytes, after: int) -> tuple[int, bool] | None:
    """Where a delimiter line whose ``--boundary`` ends at ``after`` ends, and if it closes.

    After the boundary come ``--`` (close delimiter) or nothing, then transport padding, then a
    line break (or the end of the body, after a close delimiter). Anything else means the bytes
    only look like a delimiter and belong to the part.
    """
    closing = body.startswith(b"--", after)
    end = after + 2 if closing else after
    while end < len(body) and body[end] in _PADDING:
        end += 1
    if closing:
        # The close delimiter keeps only "--"; padding and line break go to the epilogue.
        at_end = end == len(body) or body.startswith((b"\r\n", b"\n"), end)
        return (after + 2, True) if at_end else None
    if body.startswith(b"\r\n", end):
        return end + 2, False
    if body.startswith(b"\n", end):
        return end + 1, False
    return None


def _find_first(body: bytes, dash_boundary: bytes) -> tuple[int, int, bool]:
    """Locate the first delimiter line: (start, end, is it the close delimiter).

    The start includes the line break that ends the preamble, if any.
    """
    line_start = b"\n" + dash_boundary
    hit = 0 if body.startswith(dash_boundary) else body.find(line_start) + 1 or -1
    while hit != -1:
        found = _delimiter_end(body, hit + len(dash_boundary))
        if found is not None:
            start = hit - 2 if hit >= 2 and body[hit - 2 : hit] == b"\r\n" else max(hit - 1, 0)
            return start, *found
        hit = body.find(line_start, hit) + 1 or -1
    raise MalformedBody("multipart body without any boundary line")


def _split_part(content: bytes, newline: bytes) -> tuple[bytes, bytes]:
    """Split a part's content into (head with its blank line, body)."""
    if content.startswith(newline):  # no headers at all
        return newline, content[len(newline) :]
    blank = content.find(newline * 2)
    if blank == -1:  # headers only, no body
        return content, b""
    cut = blank + 2 * len(newline)
    return content[:cut], content[cut:]


def parse_multipart(body: bytes, boundary: str) -> Multipart:
    """Parse a multipart body into exact slices.

    A delimiter is a line break, ``--boundary``, optional padding and a line break (or ``--``
    for the close delimiter); the same characters anywhere else are part data. The line break
    of the first delimiter line (CRLF, or a bare LF from sloppy clients) frames the whole body.

    Raises:
        MalformedBody: an invalid boundary, no boundary line, or no close delimiter.
    """
    body = bytes(body)
    dash_boundary = b"--" + _boundary_bytes(boundary)
    start, end, closing = _find_first(body, dash_boundary)
    preamble = body[:start]
    if closing:  # "--boundary--" straight away: a multipart body with no parts
        return Multipart(boundary, b"\r\n", preamble, (), body[start:end], body[end:])
    newline = b"\r\n" if body[:end].endswith(b"\r\n") else b"\n"
    delimiter = newline + dash_boundary
    parts: list[Part] = []
    line = body[start:end]
    while True:
        found = body.find(delimiter, end)
        while found != -1 and (after := _delimiter_end(body, found + len(delimiter))) is None:
            found = body.find(delimiter, found + 1)  # a look-alike such as "--boundaryX"
        if found == -1:
            raise MalformedBody("multipart body ends without its close delimiter")
        next_end, closing = after
        head, content = _split_part(body[end:found], newline)
        parts.append(Part(line, head, content))
        if closing:
            close, epilogue = body[found:next_end], body[next_end:]
            return Multipart(boundary, newline, preamble, tuple(parts), close, epilogue)
        line, end = body[found:next_end], next_end


def parse_form(content_type: str | None, body: bytes) -> Multipart | None:
    """The body's parts when the Content-Type says ``multipart/*``; None otherwise, and for
    an empty body (a request with no parts to look at).

    Raises:
        MalformedBody: it claims to be multipart but cannot be split into parts.

    >>> parse_form("application/json", b"{}") is None
    True
    """
    if not content_type or not body:
        return None
    if not parse_header_params(content_type)[0].startswith("multipart/"):
        return None
    return parse_multipart(body, boundary_from_content_type(content_type))
