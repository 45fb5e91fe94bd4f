"""What a benchmark run asked for and measured: its configuration, one row per photo, and
the summary of each (filter, strength, profile)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from batch.samples import DEFAULT_DATA
from filters.shared.platforms import PROFILES

__all__ = ["BenchConfig", "BenchRun", "PhotoResult", "summarise"]


@dataclass(frozen=True)
class BenchConfig:
    """What to run: ``size`` is a pixel count to rescale every photo to (None: as is)."""

    filters: tuple[str, ...]
    strengths: tuple[str, ...]
    profiles: tuple[str, ...] = PROFILES
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
    and the protected file after the platform profile. ``record`` holds the protection
    record's values (``ProtectionRecord.values()``: similarity, visibility beside the
    platform's own JPEG, time), so every measure the proxy audits is benchmarked too.
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
    record: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def measure(self, name: str) -> Any:
        """One value of the record; None when protection failed or did not measure it."""
        return self.record.get(name)


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


def _mean(values: Sequence[float | bool | None]) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return round(float(np.mean(kept)), 4) if kept else None


def _percentile(values: Sequence[float | None], q: float) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return round(float(np.percentile(kept, q)), 2) if kept else None


def summarise(
    rows: Sequence[PhotoResult],
    key: tuple[str, str, str],
    peak_mb: float | None = None,
    gpu_peak_mb: float | None = None,
) -> dict[str, Any]:
    """One (filter, strength, profile)'s figures over the photos that were protected.

    Accuracies are the judge's true-label top-1/top-5 after the platform profile, on the
    originals and on the protected photos; ``judge_fooled`` is the share of the photos the
    judge had right (top-1) that it gets wrong once protected: the transfer rate. Visibility:
    the median and 10th percentile of SSIMULACRA2 (lower is worse) and the median and 90th
    percentile of Butteraugli (higher is worse), beside the platform's own JPEG's, and the
    share of photos changed more visibly than that JPEG changes them.

    >>> summarise([], ("pfgsm", "invisible", "none"))["photos"]
    0
    """
    ok = [r for r in rows if r.error is None]
    right = [r for r in ok if r.judge_before[:1] == [r.true_index]]
    times = [r.measure("elapsed_ms") for r in ok if r.measure("elapsed_ms") is not None]
    ours, platform = (
        [r.measure("ssimulacra2") for r in ok],
        [r.measure("platform_ssimulacra2") for r in ok],
    )
    butter, platform_butter = (
        [r.measure("butteraugli") for r in ok],
        [r.measure("platform_butteraugli") for r in ok],
    )
    return {
        "filter": key[0],
        "strength": key[1],
        "profile": key[2],
        "photos": len(rows),
        "errors": len(rows) - len(ok),
        "judge_top1_original": _mean([r.judge_before[:1] == [r.true_index] for r in ok]),
        "judge_top5_original": _mean([r.true_index in r.judge_before for r in ok]),
        "judge_top1_protected": _mean([r.judge_after[:1] == [r.true_index] for r in ok]),
        "judge_top5_protected": _mean([r.true_index in r.judge_after for r in ok]),
        "judge_fooled": _mean([r.judge_after[:1] != [r.true_index] for r in right]),
        "surrogate_fooled": _mean([r.surrogate_after != r.surrogate_before for r in ok]),
        "surrogate_fooled_after_upload": _mean(
            [r.surrogate_after_upload != r.surrogate_before for r in ok]
        ),
        "ssimulacra2_median": _percentile(ours, 50),
        "ssimulacra2_p10": _percentile(ours, 10),
        "butteraugli_median": _percentile(butter, 50),
        "butteraugli_p90": _percentile(butter, 90),
        "platform_ssimulacra2_median": _percentile(platform, 50),
        "platform_butteraugli_median": _percentile(platform_butter, 50),
        "more_visible_than_platform": _mean(
            [a < b for a, b in zip(ours, platform, strict=True) if a is not None and b is not None]
        ),
        "ssim": _mean([r.measure("ssim") for r in ok]),
        "psnr": _mean([r.measure("psnr") for r in ok]),  # None (identical photos) left out
        "ciede2000": _mean([r.measure("ciede2000") for r in ok]),
        "time_ms_median": round(float(np.median(times)), 1) if times else None,
        "time_ms_p90": round(float(np.percentile(times, 90)), 1) if times else None,
        "peak_rss_mb": peak_mb,
        "gpu_peak_mb": gpu_peak_mb,
    }
