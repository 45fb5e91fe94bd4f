""":class:`Photo` -> bytes, written the way the original was: its own JPEG tables and
subsampling, WebP/HEIF quality, palette, bit depth, frames and metadata. Free of torch.
"""

from __future__ import annotations

import io
import threading
import weakref

import numpy as np

from filters.codecs.decoder import decode
from filters.codecs.errors import ProtectionError, UnsupportedImageError
from filters.codecs.formats import LOSSY_FORMATS, WEBP_LOSSY_QUALITY
from filters.codecs.frames import encode_frames
from filters.codecs.giffile import write_gif_metadata
from filters.codecs.heiffile import encode_heif
from filters.codecs.jpegfile import write_jpeg_metadata
from filters.codecs.modes import narrow, to_pillow, widen
from filters.codecs.photo import Photo
from filters.codecs.pngfile import write_png_metadata, write_wide_png
from filters.codecs.webpfile import write_webp_metadata

__all__ = ["encode", "lossy_quality", "sent_pixels"]


def encode(photo: Photo) -> bytes:
    """Write a photo in its own format with its own encoder settings and metadata.

    Untouched pixels (``photo.source`` set) keep their image data bit for bit.

    Raises:
        ProtectionError: the encoder failed (e.g. metadata too large for the format).
    """
    try:
        stream = photo.source if photo.source is not None else _encode_pixels(photo)
        if photo.format in ("HEIF", "AVIF"):
            return encode_heif(photo)
        if photo.format == "JPEG":
            return write_jpeg_metadata(stream, photo.metadata)
        if photo.format == "PNG":
            return write_png_metadata(stream, photo.metadata)
        if photo.format == "GIF":
            return write_gif_metadata(stream, photo.metadata)
        return write_webp_metadata(stream, photo.metadata, photo.width, photo.height)
    except ProtectionError:
        raise
    except (OSError, ValueError) as exc:
        raise ProtectionError(f"cannot encode this {photo.format}: {exc}") from exc


# The last photo whose pixels were encoded, per thread, with its stream and decoded pixels:
# a filter encodes its output to check what a reader sees, then the pipeline writes that
# same photo (a 12 MP JPEG costs 0.07 s to encode and 0.08 s to decode). Photos are never
# changed in place, so the same object means the same pixels.
_last_encoded = threading.local()


def _remembered(photo: Photo) -> tuple[bytes, np.ndarray | None] | None:
    memo = getattr(_last_encoded, "memo", None)
    return memo[1:] if memo is not None and memo[0]() is photo else None


def _encode_pixels(photo: Photo) -> bytes:
    """The pixels alone, encoded with the photo's settings and no metadata."""
    if (memo := _remembered(photo)) is not None:
        return memo[0]
    stream = _write_pixels(photo)
    _last_encoded.memo = (weakref.ref(photo), stream, None)
    return stream


def _write_pixels(photo: Photo) -> bytes:
    if photo.format in ("HEIF", "AVIF"):
        return encode_heif(photo, with_metadata=False)
    if photo.is_animated or photo.format == "GIF" or photo.mode in ("P", "PA"):
        return encode_frames(photo)
    if photo.wide is not None:
        grey = photo.wide.shape[2] <= 2
        new = photo.pixels[:, :, :1] if grey else photo.pixels
        return write_wide_png(widen(photo.wide, narrow(photo.wide[:, :, : new.shape[2]]), new))
    image = to_pillow(photo.pixels, photo.alpha, photo.mode)
    buffer = io.BytesIO()
    encoding, dpi = photo.encoding, photo.metadata.dpi
    if photo.format == "JPEG":
        options: dict[str, object] = {"optimize": True, "progressive": encoding.progressive}
        if encoding.qtables:
            options["qtables"] = [list(table) for table in encoding.qtables]
        if encoding.subsampling >= 0:
            options["subsampling"] = encoding.subsampling
        if dpi:
            options["dpi"] = (round(dpi[0]), round(dpi[1]))
        image.save(buffer, "JPEG", **options)
    elif photo.format == "PNG":
        options = {"dpi": dpi} if dpi else {}
        image.save(buffer, "PNG", optimize=encoding.effort, **options)
    elif photo.format == "WEBP":
        lossless = encoding.lossless
        quality = encoding.quality or WEBP_LOSSY_QUALITY
        # exact: keep the colour under transparent pixels as it was.
        if lossless and encoding.effort:
            quality = 100  # for lossless WebP, quality is the effort spent on size
        method = 6 if encoding.effort else 4
        image.save(
            buffer, "WEBP", lossless=lossless, quality=quality, exact=lossless, method=method
        )
    else:
        raise UnsupportedImageError(f"cannot encode {photo.format} images")
    return buffer.getvalue()


def sent_pixels(photo: Photo) -> np.ndarray:
    """The RGB pixels a reader decodes from :func:`encode` of this photo.

    Lossy formats change pixels, palettes quantise them; grey photos are written
    through an L conversion.
    """
    palette = photo.format == "GIF" or photo.mode in ("P", "PA")
    lossless = (photo.format == "PNG" or photo.encoding.lossless) and not palette
    lossless = lossless and photo.format not in LOSSY_FORMATS
    if photo.source is not None or photo.wide is not None or (lossless and not photo.is_grey):
        return photo.pixels
    if lossless:
        grey = np.asarray(to_pillow(photo.pixels, None, "L"))
        return np.repeat(grey[:, :, None], 3, axis=2)
    memo = _remembered(photo)
    if memo is not None and memo[1] is not None:
        return memo[1]
    stream = _encode_pixels(photo)
    pixels = decode(stream).pixels
    pixels.flags.writeable = False  # remembered: no caller may change it
    _last_encoded.memo = (weakref.ref(photo), stream, pixels)
    return pixels


# The sum of libjpeg's base luminance table (ITU-T T.81 Annex K), which quality scales.
_BASE_LUMINANCE_SUM = 3688


def lossy_quality(photo: Photo) -> int | None:
    """About the quality (1-100) the photo is written at; None when it is written losslessly.

    JPEG: from the luminance table, inverting libjpeg's quality scaling (on the table's sum,
    which is independent of the order Pillow lists it in). WebP, HEIF and AVIF keep theirs.

    >>> from filters.codecs.photo import Encoding
    >>> pixels = np.zeros((8, 8, 3), np.uint8)
    >>> base = Photo(pixels, "JPEG", "RGB", encoding=Encoding(qtables=((16,) * 64,)))
    >>> lossy_quality(base)
    86
    """
    if photo.format == "JPEG" and photo.encoding.qtables:
        scale = 100 * sum(photo.encoding.qtables[0]) / _BASE_LUMINANCE_SUM
        quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
        return int(min(100, max(1, round(quality))))
    if photo.format in (*LOSSY_FORMATS, "WEBP") and not photo.encoding.lossless:
        return photo.encoding.quality
    return None
