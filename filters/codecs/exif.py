"""The one EXIF tag Veil keeps and reads itself: Orientation (the display rotation)."""

from __future__ import annotations

import struct
import warnings

from PIL import Image

from filters.codecs.photo import Photo

__all__ = ["TAG_ORIENTATION", "orientation", "orientation_only_exif", "read_orientation"]

TAG_ORIENTATION = 0x0112


def read_orientation(exif: bytes | None) -> int | None:
    """IFD0's Orientation (1-8) of a TIFF block without the ``Exif`` prefix; None when it is
    absent, out of range or unreadable (a broken sub-IFD must not rotate the photo).

    >>> read_orientation(orientation_only_exif(6)), read_orientation(b"junk")
    (6, None)
    """
    if not exif:
        return None
    parsed = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed.load(exif)
            value = parsed.get(TAG_ORIENTATION)
    except Exception:  # untrusted bytes: any failure only loses the rotation
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def orientation(photo: Photo) -> int:
    """The EXIF Orientation (1-8) of a photo; 1 when absent or unreadable."""
    return read_orientation(photo.metadata.exif) or 1


def orientation_only_exif(orientation: int, big_endian: bool = False) -> bytes:
    """A minimal EXIF (TIFF, no ``Exif`` prefix) whose only tag is Orientation."""
    order = ">" if big_endian else "<"
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(order + "I", 8)
    # One IFD entry: tag, type SHORT (3), count 1, value left-justified; no next IFD.
    entry = struct.pack(order + "HHIHH", TAG_ORIENTATION, 3, 1, orientation, 0)
    return head + struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0)
