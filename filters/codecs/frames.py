"""Animations (GIF, animated WebP, APNG) as frames, and frames back into a file.

Frames are decoded composited, as a viewer shows them, and written back as full frames
with their own durations, disposal and blending and the file's loop count: each filter
sees one frame as a still :class:`Photo`, so filters need not know about animation.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from filters.codecs.errors import ProtectionError, UnsupportedImageError
from filters.codecs.modes import palette_size, quantise, to_pillow
from filters.codecs.photo import Encoding, Frame, Metadata, Photo

__all__ = [
    "MAX_FRAMES",
    "decode_frames",
    "encode_frames",
    "frame_image",
    "frame_photos",
    "with_frames",
]

# Each frame is protected like a photo (about a second with an adversarial filter on
# 2 cores): past this many frames an upload would wait minutes.
MAX_FRAMES = 100


def decode_frames(
    image: Image.Image, data: bytes, metadata: Metadata, encoding: Encoding, max_pixels: int
) -> Photo:
    """Every frame of an opened GIF, WebP or PNG as a :class:`Photo`.

    One frame gives a still photo; a GIF keeps its palette size and is written as "P"
    ("PA" with a transparent colour).

    Raises:
        UnsupportedImageError: more than :data:`MAX_FRAMES` frames.
        ProtectionError: all frames together over ``max_pixels``.
    """
    kind, count = image.format or "", getattr(image, "n_frames", 1)
    if count > MAX_FRAMES:
        raise UnsupportedImageError(
            f"animation has {count} frames; at most {MAX_FRAMES} can be protected"
        )
    if image.width * image.height * count > max_pixels:
        raise ProtectionError(f"{count} frames of {image.width}x{image.height} are over the limit")
    colors = palette_size(image) if image.mode == "P" else None
    frames = []
    for index in range(count):
        image.seek(index)
        image.load()
        rgba = np.asarray(image.convert("RGBA"))
        disposal = getattr(image, "disposal_method", image.info.get("disposal", 0))
        frames.append(
            Frame(
                np.ascontiguousarray(rgba[:, :, :3]),
                np.ascontiguousarray(rgba[:, :, 3]),
                int(image.info.get("duration") or 0),
                int(disposal or 0),
                int(image.info.get("blend") or 0),
            )
        )
    if all(bool((frame.alpha == 255).all()) for frame in frames):
        frames = [replace(frame, alpha=None) for frame in frames]
    alpha = frames[0].alpha is not None
    mode = ("PA" if alpha else "P") if kind == "GIF" else ("RGBA" if alpha else "RGB")
    encoding = replace(encoding, colors=colors, loop=image.info.get("loop"))
    notes = (f"{count} frames protected one by one",) if count > 1 else ()
    return Photo(
        frames[0].pixels,
        kind,
        mode,
        frames[0].alpha,
        metadata,
        encoding,
        notes,
        data,
        frames=tuple(frames) if count > 1 else (),
    )


def frame_image(pixels: np.ndarray, alpha: np.ndarray | None, photo: Photo) -> Image.Image:
    """One frame as the Pillow image its format's encoder takes."""
    if photo.format == "GIF" or photo.mode in ("P", "PA"):
        keyed = photo.format == "GIF"
        return quantise(pixels, alpha, photo.encoding.colors or 256, keyed=keyed)
    return to_pillow(pixels, alpha, "RGBA" if alpha is not None else "RGB")


def encode_frames(photo: Photo) -> bytes:
    """An animation (or a still GIF) written from its frames, without metadata."""
    frames = photo.frames or (Frame(photo.pixels, photo.alpha),)
    images = [frame_image(frame.pixels, frame.alpha, photo) for frame in frames]
    options: dict[str, Any] = {}
    if len(images) > 1:
        options = {"save_all": True, "append_images": images[1:]}
        options["duration"] = [frame.duration for frame in frames]
        if photo.format in ("GIF", "PNG"):
            options["disposal"] = [frame.disposal for frame in frames]
        if photo.format == "PNG":
            options["blend"] = [frame.blend for frame in frames]
        if photo.encoding.loop is not None:
            options["loop"] = photo.encoding.loop
    if photo.format == "WEBP":
        options.update(lossless=photo.encoding.lossless, quality=photo.encoding.quality or 90)
    if photo.format == "PNG" and photo.encoding.effort:
        options["optimize"] = True
    buffer = io.BytesIO()
    images[0].save(buffer, photo.format, **options)
    return buffer.getvalue()


def frame_photos(photo: Photo) -> list[Photo]:
    """Each frame as a still photo with the file's metadata and encoding."""
    return [
        replace(photo, pixels=frame.pixels, alpha=frame.alpha, frames=(), source=None)
        for frame in photo.frames
    ]


def with_frames(photo: Photo, results: Sequence[Photo]) -> Photo:
    """The animation with each frame's pixels and the first frame's metadata taken from
    the filtered stills; its source file is kept while no pixel changed."""
    if len(results) != len(photo.frames):
        raise ValueError(f"{len(results)} frames for an animation of {len(photo.frames)}")
    same = all(new.pixels is old.pixels for new, old in zip(results, photo.frames, strict=True))
    frames = tuple(
        replace(old, pixels=new.pixels) for new, old in zip(results, photo.frames, strict=True)
    )
    return replace(
        photo,
        pixels=frames[0].pixels,
        metadata=results[0].metadata,
        frames=frames,
        source=photo.source if same else None,
    )
