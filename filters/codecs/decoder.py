"""Bytes -> :class:`Photo`: JPEG, PNG (also APNG and 16-bit), WebP, GIF, HEIF/HEIC and AVIF.

Keeps dimensions, format and the pixels' orientation exactly (no EXIF transpose): the
Orientation tag travels with the metadata. Pillow reads pixels; the metadata is read by the
container modules, the same way for untouched and new pixels. Free of torch.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

import numpy as np
from PIL import Image, JpegImagePlugin

from filters.codecs.errors import ProtectionError, UnsupportedImageError
from filters.codecs.formats import MAX_PIXELS, SUPPORTED_FORMATS, WEBP_LOSSY_QUALITY, sniff_format
from filters.codecs.frames import decode_frames
from filters.codecs.giffile import read_gif_metadata
from filters.codecs.heiffile import decode_heif, open_heif
from filters.codecs.jpegfile import read_jpeg_metadata
from filters.codecs.modes import from_pillow, narrow, palette_size
from filters.codecs.photo import Encoding, Metadata, Photo
from filters.codecs.pngfile import XMP_KEY, carried_chunk, png_bit_depth, png_chunks, read_wide_png
from filters.codecs.webpfile import webp_chunks, webp_is_lossless

__all__ = ["decode"]


def decode(data: bytes) -> Photo:
    """Decode a JPEG, PNG (also APNG), WebP (also animated), GIF, HEIF/HEIC or AVIF file.

    Raises:
        ProtectionError: not an image, corrupt or truncated, or over :data:`MAX_PIXELS`.
        UnsupportedImageError: TIFF, BMP, CMYK JPEG, AVIF without libavif, long animations.
    """
    kind = sniff_format(data)
    if kind is None:
        raise ProtectionError("not an image: the bytes match no known image format")
    if kind not in SUPPORTED_FORMATS:
        raise UnsupportedImageError(f"{kind} images are not supported yet")
    # Untrusted bytes: Pillow raises many exception types for broken files, all mean "bad".
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if kind in ("HEIF", "AVIF"):
                image = open_heif(data, kind)
            else:
                image = Image.open(io.BytesIO(data), formats=[kind, "MPO"])
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ProtectionError(
                    f"{width}x{height} image is over the limit of {MAX_PIXELS} pixels"
                )
            if kind in ("HEIF", "AVIF"):  # more images in one file are not frames
                image.load()
                return decode_heif(image, data, kind)
            if kind == "GIF" or (kind != "JPEG" and getattr(image, "n_frames", 1) > 1):
                return _decode_animation(image, data, kind)
            image.load()
    except ProtectionError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, far larger limit
        raise ProtectionError(f"image is over the limit of {MAX_PIXELS} pixels") from exc
    except Exception as exc:
        raise ProtectionError(f"cannot decode this {kind} file: {exc}") from exc
    return {"JPEG": _decode_jpeg, "PNG": _decode_png, "WEBP": _decode_webp}[kind](image, data)


def _decode_animation(image: Image.Image, data: bytes, kind: str) -> Photo:
    if kind == "GIF":
        metadata, encoding = read_gif_metadata(data), Encoding()
    elif kind == "WEBP":
        metadata = _decode_webp(image, data).metadata
        lossless = webp_is_lossless(data)
        encoding = Encoding(lossless=lossless, quality=None if lossless else WEBP_LOSSY_QUALITY)
    else:
        metadata, encoding = _png_metadata(image, data), Encoding()
    return decode_frames(image, data, metadata, encoding, MAX_PIXELS)


def _dpi(image: Image.Image) -> tuple[float, float] | None:
    dpi = image.info.get("dpi")
    return (float(dpi[0]), float(dpi[1])) if dpi else None


def _decode_jpeg(image: Image.Image, data: bytes) -> Photo:
    if image.mode not in ("RGB", "L"):
        raise UnsupportedImageError(f"{image.mode} JPEG images are not supported yet")
    metadata, dropped = read_jpeg_metadata(data)
    tables = image.quantization or {}  # type: ignore[attr-defined]
    encoding = Encoding(
        qtables=tuple(tuple(int(v) for v in tables[key]) for key in sorted(tables)) or None,
        subsampling=JpegImagePlugin.get_sampling(image),
        progressive=bool(image.info.get("progressive") or image.info.get("progression")),
    )
    pixels, alpha, mode, notes = from_pillow(image)
    metadata = replace(metadata, dpi=_dpi(image))
    return Photo(pixels, "JPEG", mode, alpha, metadata, encoding, notes + dropped, data)


def _png_metadata(image: Image.Image, data: bytes) -> Metadata:
    text = dict(getattr(image, "text", {}))
    xmp = text.pop(XMP_KEY, None)
    exif = image.info.get("exif")
    return Metadata(
        exif=exif.removeprefix(b"Exif\x00\x00") if exif else None,
        icc=image.info.get("icc_profile") or None,
        xmp=xmp.encode("utf-8") if xmp else None,
        text=tuple((key, str(value)) for key, value in text.items()),
        extra=tuple((k.decode("latin-1"), d) for k, d, _ in png_chunks(data) if carried_chunk(k)),
        dpi=_dpi(image),
    )


def _decode_png(image: Image.Image, data: bytes) -> Photo:
    metadata = _png_metadata(image, data)
    if png_bit_depth(data) == 16 and "transparency" not in image.info:
        return _decode_wide_png(data, metadata)
    pixels, alpha, mode, notes = from_pillow(image)
    if png_bit_depth(data) == 16:
        notes += ("16-bit PNG with a transparent colour key reduced to 8-bit",)
    encoding = Encoding(colors=palette_size(image) if image.mode == "P" else None)
    return Photo(pixels, "PNG", mode, alpha, metadata, encoding, notes, data)


def _decode_wide_png(data: bytes, metadata: Metadata) -> Photo:
    """A 16-bit PNG: 8-bit pixels for the filters, its own samples kept for the encoder."""
    wide = read_wide_png(data)
    grey = wide.shape[2] <= 2
    colour = np.repeat(wide[:, :, :1], 3, axis=2) if grey else wide[:, :, :3]
    alpha = narrow(wide[:, :, -1]) if wide.shape[2] in (2, 4) else None
    mode = (
        ("LA" if alpha is not None else "L") if grey else ("RGBA" if alpha is not None else "RGB")
    )
    pixels = narrow(colour)
    return Photo(pixels, "PNG", mode, alpha, metadata, Encoding(bits=16), (), data, wide=wide)


def _decode_webp(image: Image.Image, data: bytes) -> Photo:
    chunks = dict(webp_chunks(data))
    exif = chunks.get(b"EXIF")
    metadata = Metadata(
        exif=exif.removeprefix(b"Exif\x00\x00") if exif else None,
        icc=chunks.get(b"ICCP") or None,
        xmp=chunks.get(b"XMP ") or None,
    )
    lossless = b"VP8L" in chunks
    encoding = Encoding(lossless=lossless, quality=None if lossless else WEBP_LOSSY_QUALITY)
    pixels, alpha, mode, notes = from_pillow(image)
    return Photo(pixels, "WEBP", mode, alpha, metadata, encoding, notes, data)
