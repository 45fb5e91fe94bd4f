"""HEIF/HEIC (pillow-heif) and AVIF (Pillow's libavif) files <-> :class:`Photo`.

Pixels are kept in the file's stored orientation, the rotation as the EXIF Orientation
tag, as for JPEG: the encoder writes it back as the container's irot/imir transform.
Only the primary image is kept (thumbnails, depth and auxiliary images go). Changing
pixels or metadata re-encodes the image; untouched files keep every byte.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, features

from filters.codecs.errors import ProtectionError, UnsupportedImageError
from filters.codecs.exif import TAG_ORIENTATION, orientation_only_exif
from filters.codecs.modes import from_pillow, to_pillow
from filters.codecs.photo import Encoding, Metadata, Photo

__all__ = ["HEIF_QUALITY", "MIN_BOX_PAD", "decode_heif", "encode_heif", "open_heif", "pad_heif"]

# Neither container records the encoder's quality; 85 keeps re-encoding loss below a
# perturbation at about a phone's file size.
HEIF_QUALITY = 85
MIN_BOX_PAD = 8  # size and type of an empty "free" box
EXIF_PREFIX = b"Exif\x00\x00"
# Pillow's subsampling numbers <-> pillow-heif's chroma and Pillow AVIF's names.
_CHROMA = {0: 444, 1: 422, 2: 420}
_AVIF_SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
# Undo the display transform pillow-heif applies, back to the stored pixels.
_UNDO = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _heif_ready() -> None:
    import pillow_heif  # registers once; cheap after the first call

    pillow_heif.register_heif_opener()


def open_heif(data: bytes, kind: str) -> Image.Image:
    """Open a HEIF or AVIF file with the right plugin (not yet decoded).

    Raises:
        UnsupportedImageError: AVIF without libavif in this Pillow.
    """
    if kind == "AVIF" and not features.check("avif"):
        raise UnsupportedImageError("AVIF images need Pillow built with libavif")
    if kind == "HEIF":
        _heif_ready()
    return Image.open(io.BytesIO(data), formats=[kind])


def _set_orientation(exif: bytes, value: int) -> bytes:
    """The TIFF block with IFD0's Orientation set to ``value`` in place (added if absent)."""
    order = "<" if exif[:2] == b"II" else ">"
    try:
        ifd = struct.unpack_from(order + "I", exif, 4)[0]
        count = struct.unpack_from(order + "H", exif, ifd)[0]
        for index in range(count):
            entry = ifd + 2 + 12 * index
            if struct.unpack_from(order + "H", exif, entry)[0] == TAG_ORIENTATION:
                patched = bytearray(exif)
                struct.pack_into(order + "HHIHH", patched, entry, TAG_ORIENTATION, 3, 1, value, 0)
                return bytes(patched)
    except struct.error:
        pass
    if value == 1:
        return exif
    parsed = Image.Exif()
    parsed.load(exif)
    parsed[TAG_ORIENTATION] = value
    return parsed.tobytes()[len(EXIF_PREFIX) :]


def _metadata(image: Image.Image, kind: str) -> Metadata:
    exif = image.info.get("exif")
    exif = exif.removeprefix(EXIF_PREFIX) if exif else None
    turn = int(image.info.get("original_orientation") or 1) if kind == "HEIF" else 1
    if turn != 1:
        exif = _set_orientation(exif, turn) if exif else orientation_only_exif(turn)
    xmp = image.info.get("xmp")
    return Metadata(
        exif=exif,
        icc=image.info.get("icc_profile") or None,
        xmp=(xmp.encode() if isinstance(xmp, str) else xmp) or None,
    )


def _source_metadata(data: bytes, kind: str) -> Metadata:
    with open_heif(data, kind) as image:
        return _metadata(image, kind)


def decode_heif(image: Image.Image, data: bytes, kind: str) -> Photo:
    """A loaded HEIF/AVIF image and its file as a :class:`Photo` in stored orientation."""
    metadata = _metadata(image, kind)
    turn = int(image.info.get("original_orientation") or 1) if kind == "HEIF" else 1
    notes: tuple[str, ...] = ()
    if image.info.get("thumbnails") or image.info.get("depth_images") or image.info.get("aux"):
        notes += ("HEIF thumbnails, depth and auxiliary images dropped when re-encoded",)
    if getattr(image, "n_frames", 1) > 1:
        notes += (f"only the primary of {image.n_frames} images kept when re-encoded",)
    if int(image.info.get("bit_depth") or 8) > 8:
        notes += (f"{image.info['bit_depth']}-bit samples reduced to 8-bit when re-encoded",)
    shown = image.transpose(_UNDO[turn]) if turn in _UNDO else image
    pixels, alpha, mode, more = from_pillow(shown)
    chroma = {v: k for k, v in _CHROMA.items()}.get(int(image.info.get("chroma") or 420), 2)
    encoding = Encoding(subsampling=chroma, quality=HEIF_QUALITY)
    return Photo(pixels, kind, mode, alpha, metadata, encoding, notes + more, data)


def encode_heif(photo: Photo, with_metadata: bool = True) -> bytes:
    """Encode a photo as HEIF or AVIF at its ``encoding.quality``.

    An untouched photo whose metadata did not change is returned as its source file.

    Raises:
        ProtectionError: the encoder failed.
    """
    metadata = photo.metadata if with_metadata else Metadata()
    source = photo.source
    if source is not None and with_metadata and _source_metadata(source, photo.format) == metadata:
        return source
    image = to_pillow(photo.pixels, photo.alpha, photo.mode)
    quality = photo.encoding.quality or HEIF_QUALITY
    options: dict[str, object] = {"quality": quality}
    if metadata.exif:
        options["exif"] = EXIF_PREFIX + metadata.exif
    if metadata.xmp:
        options["xmp"] = metadata.xmp
    if metadata.icc:
        options["icc_profile"] = metadata.icc
    subsampling = photo.encoding.subsampling if photo.encoding.subsampling >= 0 else 2
    if photo.format == "HEIF":
        _heif_ready()
        options["chroma"] = _CHROMA[subsampling]
    else:
        options["subsampling"] = _AVIF_SUBSAMPLING[subsampling]
    buffer = io.BytesIO()
    try:
        image.save(buffer, photo.format, **options)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ProtectionError(f"cannot encode this {photo.format}: {exc}") from exc
    return buffer.getvalue()


def _box_end(data: bytes) -> int:
    """Walk the top-level ISO-BMFF boxes; the offset where the last one ends."""
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:  # 0 = "to the end of the file": nothing may follow it
            return -1
        pos += size
    return pos


def pad_heif(data: bytes, size: int) -> bytes:
    """The HEIF/AVIF file grown to exactly ``size`` bytes by a "free" box at its end.

    Raises:
        ProtectionError: ``size`` is smaller, larger by 1-7 bytes, or the last box runs
            to the end of the file.
    """
    gap = size - len(data)
    if gap == 0:
        return data
    if gap < MIN_BOX_PAD or gap > 0xFFFFFFFF:
        raise ProtectionError(f"cannot pad this file by {gap} bytes: a box takes 8 to 2^32")
    if _box_end(data) != len(data):
        raise ProtectionError("cannot pad this file: its boxes do not end at its end")
    return data + gap.to_bytes(4, "big") + b"free" + bytes(gap - MIN_BOX_PAD)
