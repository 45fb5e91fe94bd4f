"""The efficacy and speed benchmark behind ``veil bench``.

For each filter, strength and platform profile, every photo of a labelled ImageNet sample
is protected; the original and the protected file both go through the platform's resize and
recompression (``simulate_upload``), and the held-out judge (never used to make a
perturbation) is asked for its top-5 on each. Also measured: the surrogate's fooling rate,
SSIM, PSNR and CIEDE2000 between original and protected file, time and peak memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from batch.machine import MemorySampler, environment
from batch.results import BenchConfig, BenchRun, PhotoResult, summarise
from batch.samples import BenchError, Sample, load_samples, prepare_photo
from batch.upload import simulate_upload
from filters import PROFILES, STRENGTHS, ProtectionError, canonical_strength
from filters.codecs import decode, thumbnail

if TYPE_CHECKING:
    from filters.pipeline import Protector

__all__ = ["DEFAULT_OUT", "run_bench", "steps"]

DEFAULT_OUT = Path("benchmarks/results/filters")


def _topk(judge: Any, pixels: np.ndarray) -> list[int]:
    return [int(i) for i in judge.topk(pixels, 5)]


# The crops of the sheet: this many pixels square at 1x, and half of it shown at 2x.
CROP = 256


def _crop_box(original: np.ndarray, sent: np.ndarray) -> tuple[int, int]:
    """(top, left) of the CROP-square window where the change is largest: where to look."""
    height, width = original.shape[:2]
    size = min(CROP, height, width)
    change = np.abs(sent.astype(np.int16) - original.astype(np.int16)).sum(axis=2)
    # Sums over every window at once, from the integral image.
    total = np.pad(change.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    windows = (
        total[size:, size:] - total[:-size, size:] - total[size:, :-size] + total[:-size, :-size]
    )
    top, left = np.unravel_index(int(windows.argmax()), windows.shape)
    return int(top), int(left)


def _crops(pixels: np.ndarray, box: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The window at 1x, and its middle quarter at 2x (each pixel shown as 2x2)."""
    top, left = box
    size = min(CROP, *pixels.shape[:2])
    window = pixels[top : top + size, left : left + size]
    quarter = window[size // 4 : size // 4 + size // 2, size // 4 : size // 4 + size // 2]
    return window.copy(), quarter.repeat(2, axis=0).repeat(2, axis=1)


def _measure(
    protector: Protector,
    judge: Any,
    sample: Sample,
    original: dict[str, Any],
    key: tuple[str, str, str],
    seed: int | None,
) -> tuple[PhotoResult, bytes, np.ndarray | None]:
    """Protect one photo under ``key`` and measure it; returns the row, a thumbnail and the
    pixels as sent."""
    name, strength, profile = key
    photo = PhotoResult(sample.path.name, sample.class_index, name, strength, profile)
    photo.judge_before, photo.surrogate_before = original["judge"][profile], original["surrogate"]
    try:
        protected = protector.protect(
            original["data"], [name], strength, seed=seed, profile=profile
        )
    except ProtectionError as error:
        photo.error = str(error)
        return photo, b"", None
    record = protector.measure(protected)
    sent = protected.sent.pixels
    uploaded = simulate_upload(sent, profile)
    surrogate = protector.surrogate
    photo.surrogate_after = surrogate.predict(sent).index
    photo.surrogate_after_upload = surrogate.predict(uploaded).index
    photo.judge_after = _topk(judge, uploaded)
    photo.record = record.values()
    return photo, record.thumb_after, sent


def _checked(config: BenchConfig) -> BenchConfig:
    """The configuration with strengths by their current names; BenchError if unusable."""
    config = replace(config, strengths=tuple(canonical_strength(s) for s in config.strengths))
    if config.sheet_photos < 0:
        raise BenchError(f"--sheet-photos must be 0 or more, got {config.sheet_photos}")
    for kind, given, known in (
        ("strength", config.strengths, STRENGTHS),
        ("profile", config.profiles, PROFILES),
    ):
        if not given or any(value not in known for value in given):
            raise BenchError(f"{kind}s must be among {', '.join(known)}; got {list(given)}")
    if not config.filters:
        raise BenchError("no filter to benchmark")
    return config


def _original(
    sample: Sample, config: BenchConfig, protector: Protector, judge: Any
) -> dict[str, Any]:
    """The file to protect and what both classifiers say about it, once per profile."""
    data = prepare_photo(sample.path, config.size)
    photo = decode(data)
    return {
        "data": data,
        "photo": photo,
        "surrogate": protector.surrogate.predict(photo.pixels).index,
        "judge": {p: _topk(judge, simulate_upload(photo.pixels, p)) for p in config.profiles},
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
    config = _checked(config)
    samples = load_samples(config.data, config.limit)
    protector.load(list(config.filters))
    originals = [_original(sample, config, protector, judge) for sample in samples]
    sheet = [
        {
            "file": sample.path.name,
            "true_index": sample.class_index,
            "original": thumbnail(original["photo"]),
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
                row, thumb, sent = _measure(protector, judge, sample, original, key, config.seed)
                rows.append(row)
                if index < len(sheet):
                    entry = sheet[index]
                    before = original["photo"].pixels
                    if "box" not in entry and sent is not None:
                        entry["box"] = _crop_box(before, sent)
                        entry["crops"] = _crops(before, entry["box"])
                    crops = _crops(sent, entry["box"]) if sent is not None else None
                    entry["protected"][key] = (thumb, row.judge_after[:1], row, crops)
                if progress is not None:
                    progress(f"{'/'.join(key)} {sample.path.name}")
        summary.append(summarise(rows, key, memory.peak_mb, memory.gpu_peak_mb))
        photos += rows
    return BenchRun(config, environment(), summary, photos, sheet)


def steps(config: BenchConfig, photos: int) -> int:
    """How many protections a run makes, for a progress bar."""
    return len(config.filters) * len(config.strengths) * len(config.profiles) * photos
