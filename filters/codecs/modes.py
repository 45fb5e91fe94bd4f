"""Pillow image modes <-> the (H, W, 3) RGB + optional alpha arrays a :class:`Photo` holds."""

from __future__ import annotations

import numpy as np
from PIL import Image

from filters.codecs.errors import UnsupportedImageError

__all__ = ["from_pillow", "narrow", "palette_size", "quantise", "to_pillow", "widen"]

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

    Palette images are written back as "P" (or "PA" with transparency) and say so in
    the notes; 1-bit and 16-bit grey images are converted; a transparent colour key
    (tRNS) becomes an alpha channel.

    Raises:
        UnsupportedImageError: CMYK, YCbCr, Lab, float and other modes.
    """
    notes: tuple[str, ...] = ()
    mode = image.mode
    has_key = "transparency" in image.info
    if mode == "P":
        target = "RGBA" if has_key or image.palette.mode == "RGBA" else "RGB"
        image = image.convert(target)
        pixels, alpha, _mode, _notes = from_pillow(image)
        back = "PA" if target == "RGBA" else "P"
        return pixels, alpha, back, ("palette pixels re-quantised when they change",)
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


def palette_size(image: Image.Image) -> int:
    """How many colours a palette image's palette holds (2-256)."""
    colours = len(image.getpalette() or ()) // 3
    return max(2, min(256, colours or 256))


def quantise(
    pixels: np.ndarray, alpha: np.ndarray | None, colors: int, *, keyed: bool = False
) -> Image.Image:
    """RGB pixels as a "P" image with an adaptive palette of at most ``colors`` entries.

    With alpha, ``keyed`` (GIF) reserves the last entry as the one transparent colour
    for pixels under alpha < 128; otherwise (PNG) palette entries carry their own alpha.
    No dithering: its noise costs bytes, and the adversarial change is smooth.
    """
    colors = max(2, min(256, colors))
    if alpha is not None and not keyed:
        rgba = Image.fromarray(np.dstack((pixels, alpha)))
        return rgba.quantize(colors, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    keep = colors - 1 if alpha is not None else colors
    image = Image.fromarray(pixels).quantize(
        keep, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    if alpha is None:
        return image
    indices = np.asarray(image).copy()
    indices[alpha < 128] = keep
    palette = (image.getpalette() or [])[: keep * 3]
    palette += [0] * (keep * 3 - len(palette)) + [0, 0, 0]
    out = Image.fromarray(indices, "P")
    out.putpalette(palette)
    out.info["transparency"] = keep
    return out


def narrow(wide: np.ndarray) -> np.ndarray:
    """16-bit samples to the nearest 8-bit ones (v / 257 rounded)."""
    return ((wide.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def widen(wide: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The 16-bit samples moved by the 8-bit change ``new - old``: untouched ones stay exact.

    Shape:
        ``wide`` (H, W, C) uint16 with ``old``/``new`` its first C' <= C channels in 8 bits.
    """
    out = wide.astype(np.int32)
    channels = new.shape[2]
    change = new.astype(np.int32) - old.astype(np.int32)
    out[:, :, :channels] += change * 257
    return out.clip(0, 65535).astype(np.uint16)
