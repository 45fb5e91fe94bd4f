"""A decoded photo: pixels, what the file carried besides them, and how to write it back.

Free of Pillow and torch: filters and the codec pass these values around, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Encoding", "Frame", "Metadata", "Photo"]


@dataclass(frozen=True)
class Metadata:
    """Everything a file carries besides pixels, as raw bytes so the encoder can put it back.

    ``exif`` is a TIFF structure without the ``Exif\\0\\0`` prefix. ``extra`` holds other
    segments kept verbatim: ``("APP3", payload)`` for JPEG, ``("tIME", data)`` for PNG.
    """

    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None  # JPEG APP13 (Photoshop IRB) payload
    comments: tuple[bytes, ...] = ()  # JPEG COM segments
    text: tuple[tuple[str, str], ...] = ()  # PNG tEXt/zTXt/iTXt, key and value
    extra: tuple[tuple[str, bytes], ...] = ()
    dpi: tuple[float, float] | None = None


@dataclass(frozen=True)
class Encoding:
    """How to write the pixels back so the file looks like the original's encoder wrote it.

    JPEG uses ``qtables``, ``subsampling`` (Pillow's 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0, -1 =
    unknown; HEIF's chroma too) and ``progressive``; WebP, HEIF and AVIF use ``lossless`` and
    ``quality``; palette PNGs and GIFs ``colors``; 16-bit PNGs ``bits``; animations ``loop``
    (0 = forever). ``effort`` asks lossless encoders to try harder for a smaller file.
    """

    qtables: tuple[tuple[int, ...], ...] | None = None
    subsampling: int = -1
    progressive: bool = False
    lossless: bool = False
    quality: int | None = None
    colors: int | None = None
    bits: int = 8
    loop: int | None = None
    effort: bool = False


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of an animation, composited as shown (not the file's partial update).

    ``duration`` in milliseconds; ``disposal`` and ``blend`` as Pillow names them for GIF
    and APNG (0 when the format decides by itself, as WebP does).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    duration: int = 0
    disposal: int = 0
    blend: int = 0


@dataclass(frozen=True, eq=False)
class Photo:
    """An image in memory.

    Shape:
        ``pixels``: (H, W, 3) uint8 RGB, also for grey images (then R = G = B and ``mode``
        says "L"/"LA"). ``alpha``: (H, W) uint8 or None; filters leave it untouched.

    ``format`` is Pillow's name ("JPEG", "PNG", "WEBP"); ``mode`` the Pillow mode written
    back ("RGB", "RGBA", "L", "LA", "P", "PA": a palette with transparency); ``notes``
    says what decoding had to convert. ``source`` is the file the pixels came from, while
    they are unchanged: the encoder then only rewrites its metadata and leaves the image
    data bit for bit. ``wide`` holds a 16-bit file's own samples (H, W, C) uint16 (grey,
    grey + alpha, RGB or RGBA), to which the encoder adds the change of ``pixels``. An
    animation has every frame in ``frames`` (the first is ``pixels``/``alpha`` too);
    filters see one frame at a time.
    """

    pixels: np.ndarray
    format: str
    mode: str
    alpha: np.ndarray | None = None
    metadata: Metadata = field(default_factory=Metadata)
    encoding: Encoding = field(default_factory=Encoding)
    notes: tuple[str, ...] = ()
    source: bytes | None = field(default=None, repr=False)
    wide: np.ndarray | None = field(default=None, repr=False)
    frames: tuple[Frame, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3 or self.pixels.dtype != np.uint8:
            raise ValueError(f"pixels must be (H, W, 3) uint8, got {self.pixels.shape}")
        if self.alpha is not None and self.alpha.shape != self.pixels.shape[:2]:
            raise ValueError(f"alpha must be (H, W), got {self.alpha.shape}")
        if self.wide is not None and self.wide.shape[:2] != self.pixels.shape[:2]:
            raise ValueError(f"16-bit samples must be (H, W, C), got {self.wide.shape}")

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def is_grey(self) -> bool:
        return self.mode in ("L", "LA")

    @property
    def is_animated(self) -> bool:
        return len(self.frames) > 1

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """The same photo with new RGB pixels of the same size.

        Raises:
            ValueError: a different size, or an animation (its frames change one by one,
                see ``filters.pipeline.protect_frames``).
        """
        if pixels.shape != self.pixels.shape:
            raise ValueError(f"new pixels {pixels.shape} differ from {self.pixels.shape}")
        if self.is_animated:
            raise ValueError("an animation changes frame by frame, not as one image")
        return replace(self, pixels=pixels, source=None)

    def with_metadata(self, metadata: Metadata) -> Photo:
        return replace(self, metadata=metadata)
