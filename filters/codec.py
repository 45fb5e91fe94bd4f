"""Bytes <-> :class:`Photo`: decode, encode the way the original was encoded, thumbnails.

Keeps dimensions, format and the pixels' orientation exactly (no EXIF transpose): the
Orientation tag travels with the metadata. Pillow reads and writes pixels; the metadata is
read and written by the container modules, the same way for untouched and new pixels.
Free of torch.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

import numpy as np
from PIL import Image, JpegImagePlugin

from filters.errors import ProtectionError, UnsupportedImageError
from filters.formats import sniff_format
from filters.jpegfile import read_jpeg_metadata, write_jpeg_metadata
from filters.modes import from_pillow, to_pillow
from filters.photo import Encoding, Metadata, Photo
from filters.pngfile import XMP_KEY, carried_chunk, png_chunks, write_png_metadata
from filters.webpfile import webp_chunks, write_webp_metadata

__all__ = [
    "MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "THUMBNAIL_EDGE",
    "WEBP_LOSSY_QUALITY",
    "decode",
    "encode",
    "orientation",
    "sent_pixels",
    "thumbnail",
]

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP")
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
    """Decode a JPEG, PNG or WebP file.

    Raises:
        ProtectionError: not an image, corrupt or truncated, or over :data:`MAX_PIXELS`.
        UnsupportedImageError: GIF, HEIF, AVIF, TIFF, BMP, CMYK JPEG, animations.
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
            image = Image.open(io.BytesIO(data), formats=[kind, "MPO"])
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ProtectionError(
                    f"{width}x{height} image is over the limit of {MAX_PIXELS} pixels"
                )
            if kind != "JPEG" and getattr(image, "n_frames", 1) > 1:
                raise UnsupportedImageError(f"animated {kind} images are not supported yet")
            image.load()
    except ProtectionError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow's own, far larger limit
        raise ProtectionError(f"image is over the limit of {MAX_PIXELS} pixels") from exc
    except Exception as exc:
        raise ProtectionError(f"cannot decode this {kind} file: {exc}") from exc
    return {"JPEG": _decode_jpeg, "PNG": _decode_png, "WEBP": _decode_webp}[kind](image, data)


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


def _decode_png(image: Image.Image, data: bytes) -> Photo:
    text = dict(getattr(image, "text", {}))
    xmp = text.pop(XMP_KEY, None)
    exif = image.info.get("exif")
    metadata = Metadata(
        exif=exif.removeprefix(b"Exif\x00\x00") if exif else None,
        icc=image.info.get("icc_profile") or None,
        xmp=xmp.encode("utf-8") if xmp else None,
        text=tuple((key, str(value)) for key, value in text.items()),
        extra=tuple((k.decode("latin-1"), d) for k, d, _ in png_chunks(data) if carried_chunk(k)),
        dpi=_dpi(image),
    )
    pixels, alpha, mode, notes = from_pillow(image)
    header = data[16:29]  # IHDR: width, height, bit depth, colour type, ...
    if len(header) == 13 and header[8] == 16 and mode not in ("L", "LA"):
        notes += ("16-bit channels reduced to 8-bit",)
    return Photo(pixels, "PNG", mode, alpha, metadata, Encoding(), notes, data)


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
        if photo.format == "JPEG":
            return write_jpeg_metadata(stream, photo.metadata)
        if photo.format == "PNG":
            return write_png_metadata(stream, photo.metadata)
        return write_webp_metadata(stream, photo.metadata, photo.width, photo.height)
    except ProtectionError:
        raise
    except (OSError, ValueError) as exc:
        raise ProtectionError(f"cannot encode this {photo.format}: {exc}") from exc


def _encode_pixels(photo: Photo) -> bytes:
    """The pixels alone, encoded with the photo's settings and no metadata."""
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
        image.save(buffer, "PNG", **({"dpi": dpi} if dpi else {}))
    elif photo.format == "WEBP":
        lossless = encoding.lossless
        quality = encoding.quality or WEBP_LOSSY_QUALITY
        # exact: keep the colour under transparent pixels as it was.
        image.save(buffer, "WEBP", lossless=lossless, quality=quality, exact=lossless)
    else:
        raise UnsupportedImageError(f"cannot encode {photo.format} images")
    return buffer.getvalue()


def sent_pixels(photo: Photo) -> np.ndarray:
    """The RGB pixels a reader decodes from :func:`encode` of this photo.

    Lossy formats change pixels; grey photos are written through an L conversion.
    """
    lossless = photo.format == "PNG" or photo.encoding.lossless
    if photo.source is not None or (lossless and not photo.is_grey):
        return photo.pixels
    if lossless:
        grey = np.asarray(to_pillow(photo.pixels, None, "L"))
        return np.repeat(grey[:, :, None], 3, axis=2)
    return decode(_encode_pixels(photo)).pixels


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


def thumbnail(photo: Photo, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A small JPEG (long edge <= ``edge``) shown upright, alpha flattened onto white."""
    image = to_pillow(photo.pixels, photo.alpha, "RGBA" if photo.alpha is not None else "RGB")
    image.thumbnail((edge, edge), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    if (turn := _TRANSPOSE.get(orientation(photo))) is not None:
        image = image.transpose(turn)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
