"""The benchmark's plots: what protection buys against what it costs the photo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["frontier", "plot"]

MARKERS = {"none": "o", "facebook": "s", "instagram": "^"}


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    return pyplot


def plot(summary: Sequence[dict[str, Any]], path: Path) -> None:
    """Judge accuracy before/after and the perceptual cost, one group per configuration."""
    pyplot = _pyplot()
    names = [f"{r['filter']}\n{r['strength']}\n{r['profile']}" for r in summary]
    x = np.arange(len(summary))
    figure, (accuracy, cost) = pyplot.subplots(1, 2, figsize=(max(8, 1.6 * len(x) + 4), 4.5))
    bars = [
        ("judge_top1_original", "top-1 original", "#9db4d8"),
        ("judge_top1_protected", "top-1 protected", "#1f4e9c"),
        ("judge_top5_original", "top-5 original", "#f3c08b"),
        ("judge_top5_protected", "top-5 protected", "#c0631a"),
    ]
    width = 0.8 / len(bars)
    for i, (field, label, colour) in enumerate(bars):
        values = [100 * (r[field] or 0) for r in summary]
        accuracy.bar(x + (i - 1.5) * width, values, width, label=label, color=colour)
    accuracy.set(ylabel="judge true-label accuracy (%)", ylim=(0, 100), xticks=x)
    accuracy.set_xticklabels(names, fontsize=8)
    accuracy.legend(fontsize=8)
    accuracy.set_title("Held-out judge after the platform profile")
    # The bound is SSIMULACRA2 now, beside the platform's own JPEG (SSIM, ΔE00: the table).
    ours = [r["ssimulacra2_median"] or 0 for r in summary]
    platform = [r["platform_ssimulacra2_median"] or 0 for r in summary]
    cost.bar(x - 0.2, ours, 0.4, color="#4c9a6a", label="protected")
    cost.bar(x + 0.2, platform, 0.4, color="#a0a0a0", label="the platform's own JPEG")
    cost.set(ylabel="SSIMULACRA2, median (100: same)", ylim=(0, 100), xticks=x)
    cost.set_xticklabels(names, fontsize=8)
    cost.set_title("How visible the change is")
    cost.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def frontier(summary: Sequence[dict[str, Any]], path: Path) -> None:
    """Judge top-1 after the platform against how visible the change is, per strength: the
    protection each strength buys for what a person may see. One line per filter and
    profile; the platform's own JPEG is the dashed yardstick, the originals' top-1 dotted."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.8))
    measures = (
        ("ssimulacra2_median", "platform_ssimulacra2_median", "SSIMULACRA2, median (100: same)"),
        ("butteraugli_median", "platform_butteraugli_median", "Butteraugli max-norm, median"),
    )
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in summary:
        groups.setdefault((row["filter"], row["profile"]), []).append(row)
    for axis, (measure, yardstick, label) in zip(axes, measures, strict=True):
        for (name, profile), rows in groups.items():
            points = [(r[measure], 100 * (r["judge_top1_protected"] or 0), r) for r in rows]
            points = [p for p in points if p[0] is not None]
            if not points:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            axis.plot(xs, ys, marker=MARKERS.get(profile, "o"), label=f"{name} / {profile}")
            for x, y, row in points:
                axis.annotate(
                    row["strength"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8
                )
        platform = [r[yardstick] for r in summary if r[yardstick] is not None]
        if platform:
            axis.axvline(float(np.median(platform)), linestyle="--", color="grey")
            axis.annotate(
                "the platform's own JPEG", (float(np.median(platform)), 2), fontsize=8, color="grey"
            )
        originals = [100 * r["judge_top1_original"] for r in summary if r["judge_top1_original"]]
        if originals:
            top1 = float(np.median(originals))
            axis.axhline(top1, linestyle=":", color="grey")
            axis.annotate(
                "the originals",
                (0.01, top1 + 1.5),
                xycoords=axis.get_yaxis_transform(),  # x across the axes, y in data
                fontsize=8,
                color="grey",
            )
        axis.set(xlabel=label, ylabel="judge top-1 after the platform (%)", ylim=(0, 100))
        axis.legend(fontsize=8)
    axes[0].invert_xaxis()  # left to right: more visible
    axes[0].set_title("Protection against visibility (SSIMULACRA2)")
    axes[1].set_title("Protection against visibility (Butteraugli)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
