"""Pillow image modes <-> the (H, W, 3) RGB + optional alpha arrays a :class:`Photo` holds."""

from __future__ import annotations

import numpy as np
from PIL import Image

from filters.errors import UnsupportedImageError

__all__ = ["from_pillow", "to_pillow"]

_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I")


def _frozen(array: np.ndarray) -> np.ndarray:
    # Left writable so torch can wrap it without a copy; a Photo is still never changed in
    # place: filters make new arrays.
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        array = array.copy()
    return array


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[:, :, None], 3, axis=2)


def from_pillow(
    image: Image.Image,
) -> tuple[np.ndarray, np.ndarray | None, str, tuple[str, ...]]:
    """Split a loaded image into RGB pixels, alpha, the mode to write back, and notes.

    Palette, 1-bit and 16-bit images are converted (and say so in the notes); a
    transparent colour key (tRNS) becomes an alpha channel.

    Raises:
        UnsupportedImageError: CMYK, YCbCr, Lab, float and other modes.
    """
    notes: tuple[str, ...] = ()
    mode = image.mode
    has_key = "transparency" in image.info
    if mode == "P":
        target = "RGBA" if has_key or image.palette.mode == "RGBA" else "RGB"
        image, notes = image.convert(target), (f"palette converted to {target}",)
    elif mode == "1":
        image, notes = image.convert("L"), ("1-bit converted to 8-bit grey",)
    elif mode in _SIXTEEN_BIT_GREY:
        wide = np.asarray(image).astype(np.uint32)
        grey = (wide >> 8).clip(0, 255).astype(np.uint8)
        return _frozen(_grey_to_rgb(grey)), None, "L", ("16-bit grey reduced to 8-bit",)
    elif mode in ("RGB", "L") and has_key:
        target = "RGBA" if mode == "RGB" else "LA"
        image, notes = image.convert(target), ("transparent colour key converted to alpha",)
    mode = image.mode
    if mode == "RGB":
        return _frozen(np.asarray(image)), None, mode, notes
    if mode == "RGBA":
        array = np.asarray(image)
        return _frozen(array[:, :, :3]), _frozen(array[:, :, 3]), mode, notes
    if mode == "L":
        return _frozen(_grey_to_rgb(np.asarray(image))), None, mode, notes
    if mode == "LA":
        array = np.asarray(image)
        return _frozen(_grey_to_rgb(array[:, :, 0])), _frozen(array[:, :, 1]), mode, notes
    raise UnsupportedImageError(f"{mode} images are not supported yet")


def to_pillow(pixels: np.ndarray, alpha: np.ndarray | None, mode: str) -> Image.Image:
    """Build a Pillow image in ``mode`` ("RGB", "RGBA", "L", "LA") from RGB pixels and alpha."""
    rgb = Image.fromarray(pixels)
    if mode == "RGB":
        return rgb
    if mode == "L":
        return rgb.convert("L")
    if alpha is None:
        raise ValueError(f"mode {mode} needs an alpha channel")
    if mode == "RGBA":
        return Image.fromarray(np.dstack((pixels, alpha)))
    if mode == "LA":
        return Image.merge("LA", (rgb.convert("L"), Image.fromarray(alpha)))
    raise ValueError(f"cannot write mode {mode}")
