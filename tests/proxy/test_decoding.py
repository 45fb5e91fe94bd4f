"""proxy/decoding.py: Content-Encoding undone within a memory cap."""

from __future__ import annotations

import gzip
import os
import resource
import zlib

import brotli
import pytest
import zstandard

from proxy.decoding import BodyTooLarge, decode_capped

MIB = 1 << 20
BODY = os.urandom(2 * MIB) + bytes(2 * MIB)

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": lambda data: brotli.compress(data, quality=1),
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_each_coding_decodes_as_it_was(coding: str) -> None:
    assert decode_capped(ENCODERS[coding](BODY), coding, 8 * MIB) == BODY


def test_stacked_codings_are_undone_last_first_and_identity_is_nothing() -> None:
    stacked = zstandard.ZstdCompressor().compress(gzip.compress(BODY))
    assert decode_capped(stacked, "gzip, zstd", 8 * MIB) == BODY
    assert decode_capped(BODY, "identity", 8 * MIB) == BODY
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert (
        decode_capped(raw_deflate.compress(BODY) + raw_deflate.flush(), "deflate", 8 * MIB) == BODY
    )


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_a_bomb_stops_at_the_cap_without_taking_its_size(coding: str) -> None:
    bomb = ENCODERS[coding](bytes(256 * MIB))
    assert len(bomb) < MIB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BodyTooLarge, match="more than 16 MiB"):
        decode_capped(bomb, coding, 16 * MIB)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100, f"decoding a bomb took {grown_mib:.0f} MiB more"


@pytest.mark.parametrize(
    ("data", "coding"),
    [(b"not gzip at all", "gzip"), (b"\x00" * 40, "br"), (b"zzzz", "zstd"), (BODY, "compress")],
)
def test_what_does_not_decode_is_a_clear_error(data: bytes, coding: str) -> None:
    with pytest.raises(ValueError, match=coding):
        decode_capped(data, coding, 8 * MIB)
