"""Bytes <-> :class:`Photo`: decode, encode the way the original was encoded, thumbnails.

Keeps dimensions, format and the pixels' orientation exactly (no EXIF transpose): the
Orientation tag travels with the metadata. Pillow reads and writes pixels; the metadata is
read and written by the container modules, the same way for untouched and new pixels.
Free of torch.
"""

from __future__ import annotations

import io
import threading
import warnings
import weakref
from dataclasses import replace

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin

from filters.animation import decode_frames, encode_frames
from filters.errors import ProtectionError, UnsupportedImageError
from filters.formats import sniff_format
from filters.giffile import read_gif_metadata, write_gif_metadata
from filters.heiffile import decode_heif, encode_heif, open_heif
from filters.jpegfile import read_jpeg_metadata, write_jpeg_metadata
from filters.modes import from_pillow, narrow, palette_size, to_pillow, widen
from filters.photo import Encoding, Metadata, Photo
from filters.pngfile import (
    XMP_KEY,
    carried_chunk,
    png_bit_depth,
    png_chunks,
    read_wide_png,
    write_png_metadata,
    write_wide_png,
)
from filters.webpfile import webp_chunks, webp_is_lossless, write_webp_metadata

__all__ = [
    "MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "THUMBNAIL_EDGE",
    "WEBP_LOSSY_QUALITY",
    "decode",
    "encode",
    "lossy_quality",
    "orientation",
    "sent_pixels",
    "thumbnail",
]

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF")
LOSSY_FORMATS = ("JPEG", "HEIF", "AVIF")
# Above a 64 MP phone photo, below Pillow's own bomb warning (~89 MP): a larger "photo" is
# far more likely a decompression bomb, and would need gigabytes during the attack.
MAX_PIXELS = 80_000_000
# libwebp records no quality setting; 90 keeps re-encoding loss well under a perturbation.
WEBP_LOSSY_QUALITY = 90
THUMBNAIL_EDGE = 256
THUMBNAIL_QUALITY = 80
TAG_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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

    >>> from filters.photo import Encoding
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


def orientation(photo: Photo) -> int:
    """The EXIF Orientation (1-8) of a photo; 1 when absent or unreadable."""
    if not photo.metadata.exif:
        return 1
    exif = Image.Exif()
    try:
        exif.load(photo.metadata.exif)
        value = int(exif.get(TAG_ORIENTATION, 1))
    except Exception:  # a broken EXIF block only loses the display rotation
        return 1
    return value if value in _TRANSPOSE else 1


def _shrunk(plane: np.ndarray, edge: int) -> np.ndarray:
    """``plane`` with its long edge ``edge``: box means, first by a whole factor (OpenCV's
    fast path, as Pillow's ``reducing_gap``), then to the exact size."""
    height, width = plane.shape[:2]
    factor = min(max(height, width) // (2 * edge), height, width)
    if factor > 1:
        whole = plane[: height // factor * factor, : width // factor * factor]
        size = (width // factor, height // factor)
        plane = cv2.resize(whole, size, interpolation=cv2.INTER_AREA)
    scale = edge / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(plane, size, interpolation=cv2.INTER_AREA)


def thumbnail(photo: Photo, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A small JPEG (long edge <= ``edge``) shown upright, alpha flattened onto white."""
    pixels, alpha = photo.pixels, photo.alpha
    if max(pixels.shape[:2]) > edge:
        # Shrunk from the arrays themselves: Pillow would first copy a 12 MP photo into its
        # own four-byte pixels, 30 ms of the 40 ms its thumbnail takes.
        pixels = _shrunk(pixels, edge)
        alpha = None if alpha is None else _shrunk(alpha, edge)
    image = to_pillow(pixels, alpha, "RGBA" if alpha is not None else "RGB")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    if (turn := _TRANSPOSE.get(orientation(photo))) is not None:
        image = image.transpose(turn)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
