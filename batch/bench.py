"""The efficacy and speed benchmark behind ``veil bench``.

For each filter, strength and platform profile, every photo of a labelled ImageNet sample
is protected; the original and the protected file both go through the platform's resize and
recompression (``simulate_upload``), and the held-out judge (never used to make a
perturbation) is asked for its top-5 on each. Also measured: the surrogate's fooling rate,
SSIM, PSNR and CIEDE2000 between original and protected file, time and peak memory.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from filters.base import STRENGTHS
from filters.bench_report import MemorySampler, environment, summarise
from filters.codec import decode, thumbnail
from filters.errors import ProtectionError
from filters.platforms import PLATFORM_PROFILES, simulate_upload

if TYPE_CHECKING:
    from filters.pipeline import Protector

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_OUT",
    "BenchConfig",
    "BenchError",
    "BenchRun",
    "PhotoResult",
    "Sample",
    "load_samples",
    "parse_size",
    "prepare_photo",
    "run_bench",
    "steps",
]

DEFAULT_DATA = (
    Path(os.environ.get("VEIL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
    / "imagenet-sample"
)
DEFAULT_OUT = Path("benchmarks/results/filters")
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


@dataclass(frozen=True)
class BenchConfig:
    """What to run: ``size`` is a pixel count to rescale every photo to (None: as is)."""

    filters: tuple[str, ...]
    strengths: tuple[str, ...]
    profiles: tuple[str, ...] = tuple(PLATFORM_PROFILES)
    data: Path = DEFAULT_DATA
    limit: int | None = None
    size: int | None = None
    seed: int | None = None  # None: each photo's seed comes from its bytes
    sheet_photos: int = 4


@dataclass
class PhotoResult:
    """One photo under one (filter, strength, profile); ``error`` set when protection failed.

    ``judge_*`` are the judge's top-5 class indices after the platform profile.
    ``surrogate_*`` are the surrogate's top-1 on the original, the protected file as written,
    and the protected file after the platform profile.
    """

    file: str
    true_index: int
    filter: str
    strength: str
    profile: str
    judge_before: list[int] = field(default_factory=list)
    judge_after: list[int] = field(default_factory=list)
    surrogate_before: int | None = None
    surrogate_after: int | None = None
    surrogate_after_upload: int | None = None
    ssim: float | None = None
    psnr: float | None = None
    ciede2000: float | None = None
    elapsed_ms: float | None = None
    error: str | None = None


@dataclass
class BenchRun:
    """Everything a run measured; ``sheet`` holds thumbnails for the contact sheet."""

    config: BenchConfig
    environment: dict[str, Any]
    summary: list[dict[str, Any]]
    photos: list[PhotoResult]
    sheet: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        config = asdict(self.config)
        config["data"] = str(self.config.data)
        return {
            "config": config,
            "environment": self.environment,
            "summary": self.summary,
            "photos": [asdict(photo) for photo in self.photos],
        }


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


def _topk(judge: Any, image: Image.Image | np.ndarray) -> list[int]:
    return [int(i) for i in judge.topk(np.asarray(image), 5)]


def _measure(
    protector: Protector,
    judge: Any,
    sample: Sample,
    original: dict[str, Any],
    key: tuple[str, str, str],
    seed: int | None,
) -> tuple[PhotoResult, bytes]:
    """Protect one photo under ``key`` and measure it; returns the row and a thumbnail."""
    from filters.quality import ciede2000

    name, strength, profile = key
    photo = PhotoResult(sample.path.name, sample.class_index, name, strength, profile)
    photo.judge_before, photo.surrogate_before = original["judge"][profile], original["surrogate"]
    try:
        result = protector.protect(original["data"], [name], strength, seed=seed, profile=profile)
    except ProtectionError as error:
        photo.error = str(error)
        return photo, b""
    sent = decode(result.data).pixels
    uploaded = np.asarray(simulate_upload(result.data, profile))
    surrogate = protector.surrogate
    photo.surrogate_after = surrogate.predict(sent).index
    photo.surrogate_after_upload = surrogate.predict(uploaded).index
    photo.judge_after = _topk(judge, uploaded)
    photo.ssim, photo.psnr, photo.elapsed_ms = result.ssim, result.psnr, result.elapsed_ms
    photo.ciede2000 = round(float(ciede2000(decode(original["data"]).pixels, sent)), 4)
    return photo, result.thumb_after


def _check(config: BenchConfig) -> None:
    if config.sheet_photos < 0:
        raise BenchError(f"--sheet-photos must be 0 or more, got {config.sheet_photos}")
    for kind, given, known in (
        ("strength", config.strengths, STRENGTHS),
        ("profile", config.profiles, tuple(PLATFORM_PROFILES)),
    ):
        if not given or any(value not in known for value in given):
            raise BenchError(f"{kind}s must be among {', '.join(known)}; got {list(given)}")
    if not config.filters:
        raise BenchError("no filter to benchmark")


def _original(
    sample: Sample, config: BenchConfig, protector: Protector, judge: Any
) -> dict[str, Any]:
    """The file to protect and what both classifiers say about it, once per profile."""
    data = prepare_photo(sample.path, config.size)
    pixels = decode(data).pixels
    return {
        "data": data,
        "surrogate": protector.surrogate.predict(pixels).index,
        "judge": {p: _topk(judge, simulate_upload(data, p)) for p in config.profiles},
    }


def run_bench(
    config: BenchConfig,
    protector: Protector,
    judge: Any,
    progress: Callable[[str], None] | None = None,
) -> BenchRun:
    """Run every (filter, strength, profile) over the sample; see the module docstring.

    Args:
        protector: its surrogate labels the photos; filters load on first use.
        judge: the held-out classifier, with ``topk(pixels, k) -> list[int]``.
        progress: called with a short label after each protected photo.

    Raises:
        BenchError: bad data folder or options.
        ProtectionError: an unknown filter.
    """
    _check(config)
    samples = load_samples(config.data, config.limit)
    protector.load(list(config.filters))
    originals = [_original(sample, config, protector, judge) for sample in samples]
    sheet = [
        {
            "file": sample.path.name,
            "true_index": sample.class_index,
            "original": thumbnail(decode(original["data"])),
            "judge": {p: top5[0] for p, top5 in original["judge"].items()},
            "protected": {},
        }
        for sample, original in zip(samples[: config.sheet_photos], originals, strict=False)
    ]
    photos: list[PhotoResult] = []
    summary: list[dict[str, Any]] = []
    for key in itertools.product(config.filters, config.strengths, config.profiles):
        rows = []
        with MemorySampler() as memory:
            for index, (sample, original) in enumerate(zip(samples, originals, strict=True)):
                row, thumb = _measure(protector, judge, sample, original, key, config.seed)
                rows.append(row)
                if index < len(sheet):
                    sheet[index]["protected"][key] = (thumb, row.judge_after[:1], row.ssim)
                if progress is not None:
                    progress(f"{'/'.join(key)} {sample.path.name}")
        summary.append(summarise(rows, key, memory.peak_mb, memory.gpu_peak_mb))
        photos += rows
    return BenchRun(config, environment(), summary, photos, sheet)


def steps(config: BenchConfig, photos: int) -> int:
    """How many protections a run makes, for a progress bar."""
    return len(config.filters) * len(config.strengths) * len(config.profiles) * photos
