"""How visible a change is, by the measures built to predict what a person sees.

SSIMULACRA2 (:mod:`filters.shared.ssimulacra2`, 100 identical, 90 visually lossless, 70 high
quality) and Butteraugli (libjxl's ``butteraugli_main``; its max-norm is below about 1 where
two images look the same, and catches the worst local change). Both compare a photo as a
screen shows it: photos larger than :data:`SCREEN_EDGE` are first reduced by a whole factor
(box means), so a 12 MP photo is judged at about 1 MP, and a photo that size at its own.

The yardstick is the platform's own recompression: the same measures of the photo encoded
as JPEG at the platform's quality, which every viewer of the post sees anyway.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from filters.shared.ssimulacra2 import Ssimulacra2

__all__ = [
    "BUTTERAUGLI_TOOL",
    "SCREEN_EDGE",
    "Visibility",
    "butteraugli",
    "butteraugli_each",
    "describe",
    "jpeg_round_trip",
    "screen_factor",
    "screen_view",
]

# A laptop or phone shows a photo at about this many pixels across: what people look at.
SCREEN_EDGE = 1024
# libjxl's reference Butteraugli (Debian: libjxl-devtools); None where it is not installed.
BUTTERAUGLI_TOOL = "butteraugli_main"
# Where a change stops being one a person would notice, on each measure.
_WORDS = (
    (90.0, 1.2, "no visible change"),
    (80.0, 3.0, "none at normal size; on a close look, like the platform's own compression"),
    (65.0, 6.0, "visible on a close look, side by side"),
)


def screen_factor(height: int, width: int, edge: int = SCREEN_EDGE) -> int:
    """The whole factor that brings a photo's long edge to at most ``edge``.

    >>> screen_factor(3000, 4000), screen_factor(375, 500), screen_factor(3000, 4000, 2048)
    (4, 1, 2)
    """
    return max(1, math.ceil(max(height, width) / edge))


def screen_view(pixels: np.ndarray, edge: int = SCREEN_EDGE) -> np.ndarray:
    """(H, W, 3) uint8 as a screen shows it: box means by :func:`screen_factor`."""
    factor = screen_factor(*pixels.shape[:2], edge)
    if factor == 1:
        return pixels
    return np.asarray(Image.fromarray(pixels).reduce(factor))


def jpeg_round_trip(pixels: np.ndarray, quality: int) -> np.ndarray:
    """The pixels after a JPEG encode at ``quality`` (4:2:0, as platforms write)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


@functools.cache
def _tool() -> str | None:
    return shutil.which(BUTTERAUGLI_TOOL)


def butteraugli(reference: np.ndarray, distorted: np.ndarray) -> float | None:
    """Butteraugli's max-norm distance of two (H, W, 3) uint8 sRGB images (0: identical);
    None where libjxl's tool is not installed or fails."""
    return butteraugli_each(reference, [distorted])[0]


def butteraugli_each(reference: np.ndarray, distorted: Sequence[np.ndarray]) -> list[float | None]:
    """:func:`butteraugli` of each distorted image against one reference, the tool's runs
    side by side (each is single-threaded and takes most of a measurement's time).

    Written images are PNG in a private temporary folder: the tool reads files only.
    """
    for image in distorted:
        if reference.shape != image.shape:
            raise ValueError(f"images differ in shape: {reference.shape} and {image.shape}")
    tool = _tool()
    if tool is None:
        return [None] * len(distorted)
    with tempfile.TemporaryDirectory(prefix="veil-butteraugli-") as folder:
        paths = [Path(folder) / f"{i}.png" for i in range(len(distorted) + 1)]
        for path, image in zip(paths, [reference, *distorted], strict=True):
            Image.fromarray(image).save(path, compress_level=1)
        runs = [
            subprocess.Popen(
                [tool, str(paths[0]), str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for path in paths[1:]
        ]
        return [_distance(run) for run in runs]


def _distance(run: subprocess.Popen[str]) -> float | None:
    try:
        out, _ = run.communicate(timeout=120)
        return round(float(out.split()[0]), 4)
    except (IndexError, ValueError):
        return None
    except subprocess.TimeoutExpired:
        run.kill()
        run.communicate()
        return None


def describe(ssimulacra2: float | None, butteraugli: float | None) -> str:
    """The change in words a person understands, from the worse of the two measures.

    >>> describe(93.0, 0.8), describe(83.0, 2.1), describe(71.0, 2.0), describe(40.0, None)
    ('no visible change', "none at normal size; on a close look, like the platform's own \
compression", 'visible on a close look, side by side', 'visible')
    """
    if ssimulacra2 is None:
        return "not measured"
    for least, most, words in _WORDS:
        if ssimulacra2 >= least and (butteraugli is None or butteraugli <= most):
            return words
    return "visible"


@dataclass(frozen=True)
class Visibility:
    """The visible-difference measures of a change, beside the platform's own JPEG's."""

    ssimulacra2: float
    butteraugli: float | None
    platform_ssimulacra2: float
    platform_butteraugli: float | None

    @property
    def words(self) -> str:
        return describe(self.ssimulacra2, self.butteraugli)

    @classmethod
    def measure(cls, original: np.ndarray, changed: np.ndarray, quality: int) -> Visibility:
        """Both measures of ``changed`` and of ``original`` at JPEG ``quality``, on screen.

        Args:
            original, changed: (H, W, 3) uint8 of one size.
            quality: the platform's JPEG quality, the yardstick.
        """
        return cls.on_screen(screen_view(original), screen_view(changed), quality)

    @classmethod
    def on_screen(cls, before: np.ndarray, after: np.ndarray, quality: int) -> Visibility:
        """:meth:`measure` of two photos already at :func:`screen_view` size."""
        platform = jpeg_round_trip(before, quality)
        pair = torch.from_numpy(np.stack([after, platform])).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            scores = Ssimulacra2(before)(pair)
        ours, theirs = butteraugli_each(before, [after, platform])
        return cls(
            ssimulacra2=round(float(scores[0]), 2),
            butteraugli=ours,
            platform_ssimulacra2=round(float(scores[1]), 2),
            platform_butteraugli=theirs,
        )
