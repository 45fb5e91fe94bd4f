"""Size-preserving encoding: a protected file of exactly the original's byte length.

Some upload protocols announce the file's size before sending it (X's INIT
``total_bytes``, Facebook's ``file_length``, Discord's ``file_size``), so the rewrite must
keep it. The photo is encoded with its own settings, then ever more compactly (coarser
JPEG tables, lower WebP/HEIF/AVIF quality, a harder-working lossless encoder, a smaller
palette) until it fits, and is then padded with bytes every reader ignores: JPEG COM
segments, a private PNG chunk, an unknown WebP chunk, a GIF comment, an ISO-BMFF "free" box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from filters.codecs.encoder import encode
from filters.codecs.errors import ProtectionError
from filters.codecs.giffile import pad_gif
from filters.codecs.heiffile import pad_heif
from filters.codecs.jpegfile import pad_jpeg
from filters.codecs.photo import Photo
from filters.codecs.pngfile import pad_png
from filters.codecs.webpfile import pad_webp

__all__ = [
    "PADDERS",
    "encode_to_size",
    "fit_to_size",
    "pad_to_size",
    "qtable_scales",
    "scaled_qtables",
]

PADDERS: dict[str, Callable[[bytes, int], bytes]] = {
    "JPEG": pad_jpeg,
    "PNG": pad_png,
    "WEBP": pad_webp,
    "GIF": pad_gif,
    "HEIF": pad_heif,
    "AVIF": pad_heif,
}
REENCODED = ("HEIF", "AVIF")
# Coarser JPEG tables in steps of 1/8, up to 8x the original's (about quality 10 from 75).
_SCALE_STEPS = 56
# A palette shrinks by halves, down to this many colours.
_MIN_COLOURS = 16


def pad_to_size(data: bytes, kind: str, size: int) -> bytes:
    """``data`` (a ``kind`` file) padded to exactly ``size`` bytes.

    Raises:
        ProtectionError: no padding for this format, or the gap cannot be filled.
    """
    if kind not in PADDERS:
        raise ProtectionError(f"{kind} files cannot be padded to a size")
    return PADDERS[kind](data, size)


def qtable_scales() -> list[float]:
    """The JPEG table scales tried, mildest first."""
    return [1 + step / 8 for step in range(1, _SCALE_STEPS + 1)]


def scaled_qtables(tables: Sequence[Sequence[int]], scale: float) -> tuple[tuple[int, ...], ...]:
    """Quantisation tables ``scale`` times coarser, kept within baseline JPEG's 1-255.

    >>> scaled_qtables([[2, 100, 200]], 1.5)
    ((3, 150, 255),)
    """
    return tuple(tuple(min(255, max(1, round(v * scale))) for v in table) for table in tables)


def _ladder(photo: Photo) -> list[Photo]:
    """Ever more compact encodings of the photo, in order; sizes mostly decrease."""
    encoding = photo.encoding
    if photo.format == "JPEG" and encoding.qtables:
        return [
            replace(photo, encoding=replace(encoding, qtables=scaled_qtables(encoding.qtables, s)))
            for s in qtable_scales()
        ]
    lossy = photo.format in ("HEIF", "AVIF") or (photo.format == "WEBP" and not encoding.lossless)
    if lossy:
        top = encoding.quality or 90
        return [
            replace(photo, encoding=replace(encoding, quality=q)) for q in range(top - 1, 0, -1)
        ]
    steps = [replace(photo, encoding=replace(encoding, effort=True))]
    colours = encoding.colors
    while colours and colours // 2 >= _MIN_COLOURS:
        colours //= 2
        steps.append(replace(photo, encoding=replace(encoding, colors=colours, effort=True)))
    return steps


def _mildest_fit(photo: Photo, size: int) -> tuple[bytes, Photo] | None:
    """The padded file from the mildest encoding that fits (binary search), and that
    encoding; None when none fits."""
    ladder = _ladder(photo)
    low, high, best = 0, len(ladder) - 1, None
    while low <= high:
        middle = (low + high) // 2
        data = encode(ladder[middle])
        try:
            best = pad_to_size(data, photo.format, size), ladder[middle]
            high = middle - 1
        except ProtectionError:
            low = middle + 1
    return best


def fit_to_size(photo: Photo, size: int) -> tuple[bytes, Photo]:
    """Encode ``photo`` in its own format to exactly ``size`` bytes; also return the photo
    with the encoding that was used (``photo`` itself when its own settings fit), so that
    a caller can tell what a reader decodes without decoding the file.

    Untouched pixels keep their image data (metadata changes only make a file smaller;
    HEIF and AVIF are re-encoded, at lower quality if need be);
    new pixels are encoded with the photo's settings, or the mildest more compact
    settings whose file fits, and then padded.

    Raises:
        ProtectionError: even the most compact encoding is larger than ``size``, the
            format cannot be padded, or the byte gap cannot be filled.
    """
    first = encode(photo)
    try:
        return pad_to_size(first, photo.format, size), photo
    except ProtectionError as exc:
        # Untouched image data cannot shrink, except HEIF/AVIF, re-encoded for new metadata.
        if photo.format not in PADDERS or (photo.source and photo.format not in REENCODED):
            raise ProtectionError(f"cannot keep the {size}-byte size: {exc}") from exc
    fitted = _mildest_fit(photo, size)
    if fitted is not None:
        return fitted
    raise ProtectionError(
        f"the protected {photo.format} takes {len(first)} bytes with its own settings and "
        f"does not fit in the announced {size} bytes even at the most compact settings"
    )


def encode_to_size(photo: Photo, size: int) -> bytes:
    """:func:`fit_to_size`'s file alone."""
    return fit_to_size(photo, size)[0]
