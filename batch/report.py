"""The benchmark's figures and files: summary rows, JSON, Markdown, a plot, a contact sheet."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from batch.results import BenchRun

__all__ = ["OUTPUT_FILES", "contact_sheet", "markdown_table", "plot", "write_outputs"]

OUTPUT_FILES = ("results.json", "results.md", "results.png", "contact_sheet.png")
CELL = 200  # contact sheet thumbnail box, px
CAPTION = 34
RIGHT, WRONG = (20, 120, 40), (190, 30, 30)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table, one row per (filter, strength, profile)."""
    lines = [
        "| filter | strength | profile | photos | judge top-1 orig → prot | judge top-5 orig → "
        "prot | judge fooled | surrogate fooled (sent / after upload) | SSIM | PSNR dB | "
        "ΔE00 | median s | p90 s | peak MB |",
        "|" + "---|" * 3 + "---:|" * 11,
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
            f"{_pct(row['surrogate_fooled_after_upload'])} | {_num(row['ssim'], 4)} | "
            f"{_num(row['psnr'], 1)} | {_num(row['ciede2000'], 2)} | {_num(seconds[0], 2)} | "
            f"{_num(seconds[1], 2)} | {_num(row['peak_rss_mb'], 0)} |"
        )
    return "\n".join(lines) + "\n"


def plot(summary: Sequence[dict[str, Any]], path: Path) -> None:
    """Judge accuracy before/after and the perceptual cost, one group per configuration."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

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
    cost.bar(x - 0.2, [r["ssim"] or 0 for r in summary], 0.4, color="#4c9a6a", label="SSIM")
    cost.set(ylabel="mean SSIM", ylim=(0.8, 1.0), xticks=x)
    cost.set_xticklabels(names, fontsize=8)
    delta = cost.twinx()
    delta.bar(x + 0.2, [r["ciede2000"] or 0 for r in summary], 0.4, color="#b04a8c", label="ΔE00")
    delta.set_ylabel("mean CIEDE2000")
    cost.set_title("What it costs the photo")
    handles = cost.get_legend_handles_labels()[0] + delta.get_legend_handles_labels()[0]
    cost.legend(handles=handles, loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def _cell(thumb: bytes, lines: Sequence[tuple[str, tuple[int, int, int]]]) -> Image.Image:
    cell = Image.new("RGB", (CELL, CELL + CAPTION), "white")
    if thumb:
        with Image.open(io.BytesIO(thumb)) as image:
            image = image.convert("RGB")
            image.thumbnail((CELL, CELL))
            cell.paste(image, ((CELL - image.width) // 2, (CELL - image.height) // 2))
    draw = ImageDraw.Draw(cell)
    for number, (text, colour) in enumerate(lines):
        draw.text((4, CELL + 2 + 15 * number), text[:30], fill=colour, font=_font())
    return cell


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=13)


def contact_sheet(sheet: Sequence[dict[str, Any]], categories: Sequence[str], path: Path) -> None:
    """Originals and protected photos side by side, captioned with the judge's top-1.

    Each row is a photo; columns are the original (with its true class), then each
    configuration (with its SSIM). Judge labels are after the platform profile (the
    original's without one when "none" was run); green is the true class, red is not.
    """
    if not sheet:
        raise ValueError("no photos for the contact sheet")
    keys = list(sheet[0]["protected"])
    header = 22
    size = (CELL * (1 + len(keys)), header + len(sheet) * (CELL + CAPTION))
    canvas = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(canvas)
    for column, title in enumerate(["original", *("/".join(key) for key in keys)]):
        draw.text((CELL * column + 4, 4), title[:30], fill="black", font=_font())
    for row, entry in enumerate(sheet):
        truth = entry["true_index"]
        judged = entry["judge"].get("none", next(iter(entry["judge"].values())))
        cells = [(entry["original"], judged, f"true: {categories[truth]}")]
        for thumb, top1, similarity in entry["protected"].values():
            shown = "–" if similarity is None else f"{similarity:.3f}"
            cells.append((thumb, top1[0] if top1 else None, f"SSIM {shown}"))
        for column, (thumb, label, note) in enumerate(cells):
            name = "–" if label is None else categories[label]
            lines = [(name, RIGHT if label == truth else WRONG), (note, (90, 90, 90))]
            canvas.paste(_cell(thumb, lines), (CELL * column, header + row * (CELL + CAPTION)))
    canvas.save(path, "PNG", optimize=True)


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
    if not run.sheet:  # asked for no photos on the sheet
        return paths[:3]
    contact_sheet(run.sheet, imagenet_categories(), paths[3])
    return paths
