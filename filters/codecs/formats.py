"""Recognise image formats by their first bytes, not by what a Content-Type claims.

Pure Python and free of Pillow and torch, so the proxy can sniff bodies cheaply.
"""

__all__ = [
    "IMAGE_MAGIC_MIN_BYTES",
    "LOSSY_FORMATS",
    "MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "WEBP_LOSSY_QUALITY",
    "sniff_format",
]

SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "AVIF")
LOSSY_FORMATS = ("JPEG", "HEIF", "AVIF")
# Above a 64 MP phone photo, below Pillow's own bomb warning (~89 MP): a larger "photo" is
# far more likely a decompression bomb, and would need gigabytes during the attack.
MAX_PIXELS = 80_000_000
# libwebp records no quality setting; 90 keeps re-encoding loss well under a perturbation.
WEBP_LOSSY_QUALITY = 90

# Enough bytes to see every signature below (ISO-BMFF brands sit at offset 8..12).
IMAGE_MAGIC_MIN_BYTES = 16

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_format(data: bytes) -> str | None:
    """Return the Pillow format name of an image from its magic number, or None.

    >>> sniff_format(b"\\xff\\xd8\\xff\\xe0" + bytes(12))
    'JPEG'
    >>> sniff_format(b"hello") is None
    True
    """
    head = bytes(data[:IMAGE_MAGIC_MIN_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return "HEIF"
    # Formats Veil cannot rewrite, named so that they get the failure rule, never a pass.
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "JPEG2000"
    if head.startswith((b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\xff\x0a")):
        return "JPEGXL"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"BM") and len(head) >= 14:
        return "BMP"
    return None
