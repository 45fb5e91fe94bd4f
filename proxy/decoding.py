"""Undo a request's Content-Encoding within a memory cap: a 1 MB gzip body that expands to
1 GiB must not take gigabytes (mitmproxy's own decoding has no cap: 3.3-4.3 GB peak).

Each codec is fed so that one step cannot overshoot far: zlib by ``max_length``, zstd by
bounded reads, brotli (whose binding has no output limit) 16 input bytes at a time, which
decode to at most a few 16 MiB windows. Pure Python, nothing from mitmproxy.
"""

from __future__ import annotations

import io
import zlib

import brotli
import zstandard

__all__ = ["BodyTooLarge", "decode_capped"]

_STEP = 1 << 20  # decoded bytes asked of zlib and zstd per step
_BROTLI_INPUT_STEP = 16


class BodyTooLarge(ValueError):
    """The decoded body would exceed the cap."""


def _check(size: int, cap: int) -> None:
    if size > cap:
        raise BodyTooLarge(f"the upload decodes to more than {cap // (1 << 20)} MiB")


def _zlib(data: bytes, wbits: int, cap: int) -> bytes:
    decoder = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while pending:
        out += decoder.decompress(pending, _STEP)
        _check(len(out), cap)
        pending = decoder.unconsumed_tail
        if decoder.eof:
            break
    out += decoder.flush()
    _check(len(out), cap)
    return bytes(out)


def _zstd(data: bytes, cap: int) -> bytes:
    out = bytearray()
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
        while chunk := reader.read(_STEP):
            out += chunk
            _check(len(out), cap)
    return bytes(out)


def _brotli(data: bytes, cap: int) -> bytes:
    decoder = brotli.Decompressor()
    out = bytearray()
    for start in range(0, len(data), _BROTLI_INPUT_STEP):
        out += decoder.process(data[start : start + _BROTLI_INPUT_STEP])
        _check(len(out), cap)
    if not decoder.is_finished():
        raise ValueError("the brotli stream is truncated")
    return bytes(out)


def _decode_one(data: bytes, encoding: str, cap: int) -> bytes:
    try:
        if encoding in ("gzip", "x-gzip"):
            return _zlib(data, 16 + zlib.MAX_WBITS, cap)
        if encoding == "deflate":
            try:
                return _zlib(data, zlib.MAX_WBITS, cap)
            except zlib.error:  # some clients send raw deflate, without the zlib header
                return _zlib(data, -zlib.MAX_WBITS, cap)
        if encoding == "br":
            return _brotli(data, cap)
        if encoding == "zstd":
            return _zstd(data, cap)
    except (zlib.error, brotli.error, zstandard.ZstdError) as error:
        raise ValueError(f"invalid {encoding} data: {error}") from None
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


def decode_capped(data: bytes, content_encoding: str | None, cap: int) -> bytes:
    """``data`` with its Content-Encoding undone (each listed coding, last applied first).

    Raises:
        BodyTooLarge: the decoded body, or a step of it, is larger than ``cap`` bytes.
        ValueError: an unknown coding or data that does not decode.

    >>> decode_capped(zlib.compress(b"hello"), "deflate", 100)
    b'hello'
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding != "identity":
            data = _decode_one(data, coding, cap)
    _check(len(data), cap)
    return data
