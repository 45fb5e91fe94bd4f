"""Stream a large upload through while proving it carries no image: never buffer it whole.

A body too large to hold is forwarded as it arrives, but each piece leaves only once the
bytes up to it are known not to start an image: the first bytes of a raw body, the first
bytes of every multipart part, any base64 image signature in a text body. Content-Encoding
(gzip, deflate, br, zstd) is decoded on the fly for the check while the encoded bytes are
forwarded. When an image turns up, nothing of it has left: the failure rule decides.
Pure Python; used as mitmproxy's per-flow ``request.stream`` callable.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Callable

import brotli
import zstandard

from filters.codecs.formats import sniff_format
from proxy.headers import parse_header_params
from proxy.multipart import MalformedBody, boundary_from_content_type
from proxy.shapes.textimage import MIN_TEXT_IMAGE_CHARS, decode_text_image

__all__ = ["MAX_BUFFERED_BODY", "StreamGuard", "should_stream"]

# Bodies up to this size are buffered and protected whole: every photo, HEIC and GIF fits.
# Larger ones (videos, archives) stream through a StreamGuard.
MAX_BUFFERED_BODY = 64 * 1024 * 1024
# Enough decoded bytes to recognise an image, raw or as base64 or a data URL.
_PEEK = MIN_TEXT_IMAGE_CHARS + 48
# A part's header block longer than this is not a browser's; refuse rather than hold it.
_MAX_PART_HEAD = 16 * 1024
# Base64 or percent-encoded image signatures that may sit anywhere in a JSON or form body.
_TEXT_SIGNATURES = re.compile(
    rb"/9j/|\\/9j\\/|%2F9j%2F|iVBORw0KGgo|R0lGOD|UklGR|AAAA[A-Za-z0-9+/]{2}Z0eXB|"
    rb"data:image|%FF%D8%FF|%89PNG",
    re.IGNORECASE,
)
_SIGNATURE_OVERLAP = 32
# The decoded end of a piece that could not be checked: never released by the scan.
_UNCHECKED = 1 << 62


def should_stream(content_length: int | None) -> bool:
    """Whether a protected upload is too large to buffer (unknown lengths are buffered up to
    the same size, then guarded: ``proxy.addons.streaming``)."""
    return content_length is not None and content_length > MAX_BUFFERED_BODY


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda data: data
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if encoding == "deflate":
        return zlib.decompressobj().decompress
    if encoding == "br":
        return brotli.Decompressor().process
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress
    return None


def _starts_image(head: bytes) -> str | None:
    """The format of an image starting ``head``, binary or as base64 / data URL."""
    fmt = sniff_format(head)
    if fmt is not None:
        return fmt
    try:
        text = decode_text_image(head)
    except MalformedBody:
        return None
    return text.format if text is not None else None


def _described(fmt: str | None) -> str | None:
    return f"a {fmt} image" if fmt else None


class _Scanner:
    """Finds where an image could start in a decoded stream; reports how far it is safe."""

    def __init__(self, content_type: str | None) -> None:
        media_type = parse_header_params(content_type or "")[0]
        self.kind = "raw"
        self.delimiter = b""
        if media_type.startswith("multipart/") and content_type:
            self.kind = "multipart"
            self.delimiter = b"\n--" + boundary_from_content_type(content_type).encode("latin-1")
        elif media_type.endswith(("json", "x-www-form-urlencoded")) or media_type.startswith(
            "text/"
        ):
            self.kind = "text"
        # The first delimiter needs no line break before it: start as if one had come.
        self.window = bytearray(b"\n" if self.kind == "multipart" else b"")
        self.virtual = len(self.window)
        self.safe = 0  # decoded bytes known to start no image
        self.state = "body"
        self.done = False
        self.found: str | None = None

    def feed(self, data: bytes, final: bool) -> None:
        self.window += data
        if self.kind == "raw":
            if len(self.window) >= _PEEK or final:
                self.found = _described(_starts_image(bytes(self.window[:_PEEK])))
                self.done = self.found is None
                self._clear(len(self.window) if self.done else 0)
            return
        if self.kind == "text":
            match = _TEXT_SIGNATURES.search(self.window)
            if match is not None:
                self._clear(match.start())
                self.found = "a base64 image"
            else:
                keep = 0 if final else _SIGNATURE_OVERLAP
                self._clear(max(0, len(self.window) - keep))
            return
        self._multipart(final)

    def _multipart(self, final: bool) -> None:
        while self.found is None:
            if self.state == "body":
                at = self.window.find(self.delimiter)
                if at == -1:
                    keep = 0 if final else len(self.delimiter)
                    self._clear(max(0, len(self.window) - keep))
                    return
                self._clear(at + len(self.delimiter))
                self.state = "head"
            elif self.state == "head":
                ends = [
                    e for e in (self.window.find(b"\n\r\n"), self.window.find(b"\n\n")) if e >= 0
                ]
                if not ends:
                    if final:  # the close delimiter and epilogue: no part follows
                        self._clear(len(self.window))
                    elif len(self.window) > _MAX_PART_HEAD:
                        self.found = "a multipart part whose headers do not end"
                    return
                end = min(ends)
                self._clear(end + (3 if self.window[end + 1 : end + 2] == b"\r" else 2))
                self.state = "peek"
            else:
                if len(self.window) < _PEEK and not final:
                    return
                self.found = _described(_starts_image(bytes(self.window[:_PEEK])))
                self.state = "body"

    def _clear(self, count: int) -> None:
        """Mark ``count`` bytes at the window's start safe and drop them."""
        real = max(0, count - self.virtual)
        self.virtual = max(0, self.virtual - count)
        self.safe += real
        del self.window[:count]


class StreamGuard:
    """``flow.request.stream`` callable: forwards the body once each piece is proven image-free.

    Args:
        content_type: the request's Content-Type.
        content_encoding: the request's Content-Encoding.
        on_image: called once with the reason when an image turns up (or the body cannot be
            checked); returns True to send the rest as it is (the policy's ``send_original``),
            False to stop forwarding (the caller then closes the connection).
        why: why the body streams, for the reason (``"an upload too large to buffer"``).
    """

    def __init__(
        self,
        content_type: str | None,
        content_encoding: str | None,
        on_image: Callable[[str], bool],
        why: str = "an upload too large to buffer",
    ) -> None:
        self.on_image = on_image
        self.why = why
        self.decode = _decoder(content_encoding or "")
        # Without Content-Encoding a piece can be cut exactly where the checked bytes end.
        self.identity = (content_encoding or "identity").strip().lower() == "identity"
        self.pending: deque[tuple[bytes, int]] = deque()  # (encoded piece, decoded end)
        self.decoded = 0
        self.blocked = False
        self.passthrough = False
        self.reason: str | None = None
        try:
            self.scanner = _Scanner(content_type)
        except MalformedBody as error:
            self.scanner = None
            self.reason = f"cannot check the upload: {error}"
        if self.decode is None:
            self.reason = f"cannot check the upload: Content-Encoding {content_encoding!r}"

    def __call__(self, data: bytes) -> bytes | list[bytes]:
        if self.passthrough:
            return data
        if self.blocked:
            return b""
        final = data == b""
        if self.reason is None:
            self._scan(data, final)
        else:
            self.pending.append((data, _UNCHECKED))
        out = self._release(self.scanner.safe) if self.scanner is not None else []
        if self.reason is not None:
            return [piece for piece in out + self._decide() if piece]
        if self.scanner is not None and self.scanner.done:
            self.passthrough = True
            out += [piece for piece, _ in self.pending]
            self.pending.clear()
        return [piece for piece in out if piece]

    def _release(self, safe: int) -> list[bytes]:
        """The pending pieces whose bytes are all checked; exact cuts without encoding."""
        out = []
        while self.pending and self.pending[0][1] <= safe:
            out.append(self.pending.popleft()[0])
        if self.identity and self.pending:
            piece, end = self.pending[0]
            cut = len(piece) - (end - safe)
            if cut > 0:
                out.append(piece[:cut])
                self.pending[0] = (piece[cut:], end)
        return out

    def _scan(self, data: bytes, final: bool) -> None:
        assert self.scanner is not None and self.decode is not None
        try:
            decoded = self.decode(data) if data else b""
        except (zlib.error, brotli.error, zstandard.ZstdError) as error:
            self.pending.append((data, _UNCHECKED))
            self.reason = f"cannot decode the upload: {error}"
            return
        self.decoded += len(decoded)
        self.pending.append((data, self.decoded))
        self.scanner.feed(decoded, final)
        if self.scanner.found is not None:
            self.reason = f"{self.scanner.found} inside {self.why}"

    def _decide(self) -> list[bytes]:
        release = self.on_image(self.reason or "")
        if not release:
            self.blocked = True
            self.pending.clear()
            return []
        self.passthrough = True
        out = [piece for piece, _ in self.pending if piece]
        self.pending.clear()
        return out
