"""The ``metadata`` filter: strip what identifies the camera, the owner, the place and the time.

Keeps the Orientation tag (else the photo shows sideways) and the ICC profile (else colours
shift); everything else a file carries besides pixels goes.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

from PIL import ExifTags, Image

from filters.base import Filter, Filtered, FilterSettings
from filters.codecs.exif import TAG_ORIENTATION, orientation_only_exif, read_orientation
from filters.codecs.photo import Metadata, Photo

__all__ = ["MetadataFilter", "strip_metadata"]

# PNG chunks that only say how to show colours: kept like the ICC profile.
COLOUR_CHUNKS = frozenset({"cHRM", "cICP", "gAMA", "sRGB"})
_SEGMENT_NAMES = {"JFXX": "Thumbnail", "FPXR": "FlashPix", "Ducky": "Ducky"}
_CHUNK_NAMES = {"tIME": "ModifyDate"}


def _tag_name(tag: int) -> str:
    return ExifTags.TAGS.get(tag, f"Tag 0x{tag:04X}")


def _exif_names(raw: bytes) -> list[str]:
    """Names of the tags an EXIF block holds besides Orientation; ["EXIF"] if unreadable."""
    exif = Image.Exif()
    removed: list[str] = []
    try:
        with warnings.catch_warnings():  # Pillow warns, then reads nothing, on corrupt data
            warnings.simplefilter("error")
            exif.load(raw)
            for tag in exif:
                if tag == ExifTags.IFD.Exif:
                    removed += [
                        "Interop" if sub == ExifTags.IFD.Interop else _tag_name(sub)
                        for sub in exif.get_ifd(tag)
                    ]
                elif tag == ExifTags.IFD.GPSInfo:
                    removed.append("GPS")
                elif tag != TAG_ORIENTATION:
                    removed.append(_tag_name(tag))
            if exif.get_ifd(ExifTags.IFD.IFD1):
                removed.append("Thumbnail")
    except Exception:  # unreadable: it all goes, whatever it holds
        return ["EXIF"]
    return removed


def _clean_exif(raw: bytes) -> tuple[bytes | None, list[str]]:
    """Reduce an EXIF block to its Orientation tag; also name every tag removed."""
    value, removed = read_orientation(raw), _exif_names(raw)
    if value is None:
        return None, removed or ["EXIF"]
    return orientation_only_exif(value, big_endian=raw.startswith(b"MM")), removed


def _extra_name(kind: str, payload: bytes) -> str:
    if kind.startswith("APP"):
        ident = payload.split(b"\x00", 1)[0][:32].decode("latin-1", "replace")
        return _SEGMENT_NAMES.get(ident, ident if ident.isprintable() and ident else kind)
    return _CHUNK_NAMES.get(kind, kind)


def strip_metadata(metadata: Metadata) -> tuple[Metadata, list[str]]:
    """The metadata left after stripping, and the names of the fields removed.

    >>> clean, removed = strip_metadata(Metadata(comments=(b"at home",), icc=b"profile"))
    >>> removed, clean.icc
    (['Comment'], b'profile')
    """
    removed: list[str] = []
    exif = None
    if metadata.exif:
        exif, names = _clean_exif(metadata.exif)
        removed += names
    if metadata.xmp:
        removed.append("XMP")
    if metadata.iptc:
        removed.append("IPTC")
    if metadata.comments:
        removed.append("Comment")
    removed += [key for key, _value in metadata.text]
    kept_extra = tuple((kind, data) for kind, data in metadata.extra if kind in COLOUR_CHUNKS)
    removed += [_extra_name(k, d) for k, d in metadata.extra if k not in COLOUR_CHUNKS]
    clean = replace(
        metadata, exif=exif, xmp=None, iptc=None, comments=(), text=(), extra=kept_extra
    )
    return clean, list(dict.fromkeys(removed))


class MetadataFilter(Filter):
    """Remove GPS, serial numbers, owner, make/model, dates, software, XMP, IPTC, comments,
    thumbnails and PNG text; keep Orientation and the ICC profile. Pixels are untouched."""

    name = "metadata"
    description = (
        "Removes location, camera and lens serials, owner, make/model, dates, software, "
        "maker notes, XMP, IPTC, comments and thumbnails; keeps orientation and colour profile."
    )

    def apply(self, photo: Photo, settings: FilterSettings) -> Filtered:
        clean, removed = strip_metadata(photo.metadata)
        kept = ["Orientation"] if clean.exif else []
        kept += ["ICC"] if clean.icc else []
        return Filtered(photo.with_metadata(clean), {"removed": removed, "kept": kept})
