"""The benchmark's files: JSON of every figure, a Markdown table, the plots and the sheets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from batch.plots import frontier, plot
from batch.results import BenchRun
from batch.sheets import contact_sheet, crop_sheet

__all__ = ["OUTPUT_FILES", "face_table", "markdown_table", "write_face_outputs", "write_outputs"]

# The pictures last: the contact sheet and the crops show the photos themselves.
OUTPUT_FILES = (
    "results.json",
    "results.md",
    "results.png",
    "frontier.png",
    "contact_sheet.png",
    "crops.png",
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table, one row per (filter, strength, profile).

    Visibility first, beside the platform's own JPEG of the same photos: SSIMULACRA2 median
    (10th percentile), Butteraugli median (90th percentile), and the share of photos changed
    more visibly than that JPEG changes them.
    """
    lines = [
        "| filter | strength | profile | photos | judge top-1 orig → prot | judge top-5 orig → "
        "prot | judge fooled | surrogate fooled (sent / after upload) | SSIMULACRA2 (p10) | "
        "Butteraugli (p90) | platform JPEG: SSIMULACRA2 / Butteraugli | more visible than "
        "it | SSIM | PSNR dB | ΔE00 | median s | p90 s | peak MB |",
        "|" + "---|" * 3 + "---:|" * 15,
    ]
    for row in summary:
        ms = row["time_ms_median"], row["time_ms_p90"]
        seconds = [None if v is None else v / 1000 for v in ms]
        lines.append(
            f"| {row['filter']} | {row['strength']} | {row['profile']} | "
            f"{row['photos'] - row['errors']}/{row['photos']} | "
            f"{_pct(row['judge_top1_original'])} → {_pct(row['judge_top1_protected'])} | "
            f"{_pct(row['judge_top5_original'])} → {_pct(row['judge_top5_protected'])} | "
            f"{_pct(row['judge_fooled'])} | {_pct(row['surrogate_fooled'])} / "
            f"{_pct(row['surrogate_fooled_after_upload'])} | "
            f"{_num(row['ssimulacra2_median'], 1)} ({_num(row['ssimulacra2_p10'], 1)}) | "
            f"{_num(row['butteraugli_median'], 2)} ({_num(row['butteraugli_p90'], 2)}) | "
            f"{_num(row['platform_ssimulacra2_median'], 1)} / "
            f"{_num(row['platform_butteraugli_median'], 2)} | "
            f"{_pct(row['more_visible_than_platform'])} | {_num(row['ssim'], 4)} | "
            f"{_num(row['psnr'], 1)} | {_num(row['ciede2000'], 2)} | {_num(seconds[0], 2)} | "
            f"{_num(seconds[1], 2)} | {_num(row['peak_rss_mb'], 0)} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(run: BenchRun, out: Path) -> list[Path]:
    """Write :data:`OUTPUT_FILES` under ``out`` (created); return their paths."""
    from filters.shared.surrogate import imagenet_categories

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in OUTPUT_FILES]
    paths[0].write_text(json.dumps(run.to_dict(), indent=1) + "\n")
    env = run.environment
    paths[1].write_text(
        f"# Veil filter benchmark\n\n{len(run.photos) // max(1, len(run.summary))} photos from "
        f"`{run.config.data.name}`"
        + (f", rescaled to {run.config.size / 1e6:.1f} MP" if run.config.size else "")
        + f"; {env['device']}, {env['cpus']} CPUs, torch {env['torch']}; {env['date']}.\n\n"
        + markdown_table(run.summary)
    )
    plot(run.summary, paths[2])
    frontier(run.summary, paths[3])
    if not run.sheet:  # asked for no photos on the sheet
        return paths[:4]
    contact_sheet(run.sheet, imagenet_categories(), paths[4])
    crop_sheet(run.sheet, paths[5])
    return paths


def face_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    head = (
        "| filter | strength | profile | photos | faces | dlib match before → after | "
        "distance before → after | dlib / YuNet still find | face SSIMULACRA2 min / median | "
        "face Butteraugli | photo SSIMULACRA2 / Butteraugli | platform JPEG | "
        "s a photo | s a face |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    lines = [
        f"| {s['filter']} | {s['strength']} | {s['profile']} | {s['photos']} | {s['faces']} | "
        f"{pct(s['match_before'])} → {pct(s['match_after'])} | "
        f"{s['distance_before']} → {s['distance_after']} | "
        f"{pct(s['dlib_found'])} / {pct(s['yunet_found'])} | "
        f"{s['face_ssimulacra2_min']} / {s['face_ssimulacra2']} | {s['face_butteraugli']} | "
        f"{s['ssimulacra2']} / {s['butteraugli']} | "
        f"{s['platform_ssimulacra2']} / {s['platform_butteraugli']} | "
        f"{s['seconds']} | {s['seconds_per_face']} |"
        for s in summary
    ]
    return head + "\n".join(lines) + "\n"


def write_face_outputs(run: dict[str, Any], out: Path) -> list[Path]:
    """results.json and results.md under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"
    json_path.write_text(json.dumps(run, indent=1) + "\n")
    md_path.write_text("# Veil face benchmark\n\n" + face_table(run["summary"]))
    return [json_path, md_path]
