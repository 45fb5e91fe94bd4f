"""Image files <-> :class:`Photo`: decode, encode as the original was encoded, fit a size.

The lowest layer of ``filters``: it knows Pillow, pillow-heif and the containers' bytes, and
nothing of the filters above it or of torch.

>>> from filters.codecs import decode, encode
>>> photo = decode(jpeg_bytes)  # doctest: +SKIP
>>> encode(photo.with_pixels(new_pixels))  # doctest: +SKIP
"""

from filters.codecs.decoder import decode
from filters.codecs.encoder import encode, lossy_quality, sent_pixels
from filters.codecs.errors import ProtectionError, UnsupportedImageError
from filters.codecs.exif import orientation, orientation_only_exif, read_orientation
from filters.codecs.formats import MAX_PIXELS, SUPPORTED_FORMATS, sniff_format
from filters.codecs.frames import MAX_FRAMES, frame_photos, with_frames
from filters.codecs.photo import Encoding, Frame, Metadata, Photo
from filters.codecs.sizing import encode_to_size, fit_to_size, pad_to_size
from filters.codecs.thumbnail import THUMBNAIL_EDGE, thumbnail

__all__ = [
    "MAX_FRAMES",
    "MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "THUMBNAIL_EDGE",
    "Encoding",
    "Frame",
    "Metadata",
    "Photo",
    "ProtectionError",
    "UnsupportedImageError",
    "decode",
    "encode",
    "encode_to_size",
    "fit_to_size",
    "frame_photos",
    "lossy_quality",
    "orientation",
    "orientation_only_exif",
    "pad_to_size",
    "read_orientation",
    "sent_pixels",
    "sniff_format",
    "thumbnail",
    "with_frames",
]
