"""The benchmark's photos: a folder of ImageNet photos with a ``labels.csv`` of their true
classes, read in order, and rescaled to a pixel count when asked."""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

__all__ = [
    "DEFAULT_DATA",
    "BenchError",
    "Sample",
    "load_samples",
    "parse_size",
    "prepare_photo",
]

DEFAULT_DATA = (
    Path(os.environ.get("VEIL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    / "imagenet-sample"
)
# The upscaled copies are re-encoded this well so the codec adds no visible loss of its own.
PREPARED_QUALITY = 92


class BenchError(ValueError):
    """The benchmark cannot run as asked: missing data, bad option values."""


@dataclass(frozen=True)
class Sample:
    """A photo of the benchmark set and its true ImageNet class."""

    path: Path
    class_index: int
    name: str


def load_samples(data: Path, limit: int | None = None) -> list[Sample]:
    """The photos listed in ``data/labels.csv`` (file, class_index, wnid, name), in order.

    Raises:
        BenchError: no labels.csv, a malformed row, a listed photo missing, a bad limit.
    """
    if limit is not None and limit < 1:
        raise BenchError(f"--limit must be at least 1, got {limit}")
    labels = data / "labels.csv"
    if not labels.is_file():
        raise BenchError(f"no labels.csv in {data}: expected file,class_index,wnid,name rows")
    samples = []
    with open(labels, newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                sample = Sample(data / row["file"], int(row["class_index"]), row["name"])
            except (KeyError, TypeError, ValueError) as exc:
                raise BenchError(f"{labels}, line {number}: malformed row {row!r}") from exc
            if not sample.path.is_file():
                raise BenchError(f"{labels}, line {number}: {sample.path} is missing")
            samples.append(sample)
            if limit is not None and len(samples) >= limit:
                break
    if not samples:
        raise BenchError(f"{labels} lists no photos")
    return samples


def parse_size(text: str) -> int:
    """A photo size as a pixel count: ``12MP``, ``12`` (megapixels) or ``4000x3000``.

    >>> parse_size("4000x3000"), parse_size("12MP"), parse_size("0.5")
    (12000000, 12000000, 500000)
    """
    value = text.strip().lower()
    if match := re.fullmatch(r"(\d+)x(\d+)", value):
        pixels = int(match[1]) * int(match[2])
    else:
        try:
            pixels = round(float(value.removesuffix("mp")) * 1_000_000)
        except ValueError:
            raise BenchError(f"--size must be like 12MP or 4000x3000, got {text!r}") from None
    if not 1024 <= pixels <= 80_000_000:
        raise BenchError(f"--size must be between 1 kP and 80 MP, got {text!r}")
    return pixels


def prepare_photo(path: Path, pixels: int | None) -> bytes:
    """The photo's file; rescaled (same aspect) to about ``pixels`` pixels as a JPEG if set."""
    data = path.read_bytes()
    if pixels is None:
        return data
    with Image.open(io.BytesIO(data)) as image:
        scale = (pixels / (image.width * image.height)) ** 0.5
        size = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        resized = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=PREPARED_QUALITY)
    return buffer.getvalue()
