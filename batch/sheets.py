"""The benchmark's pictures to look at by eye: a contact sheet of thumbnails with the judge's
labels, and crops at 1x and 2x where the change is largest."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

__all__ = ["contact_sheet", "crop_sheet"]

CELL = 200  # contact sheet thumbnail box, px
CAPTION = 34
RIGHT, WRONG = (20, 120, 40), (190, 30, 30)
GREY = (90, 90, 90)


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
    configuration (with its SSIMULACRA2 and Butteraugli). Judge labels are after the
    platform profile (the original's without one when "none" was run); green is the true
    class, red is not.
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
        for thumb, top1, result, _crops in entry["protected"].values():
            cells.append((thumb, top1[0] if top1 else None, _visibility(result)))
        for column, (thumb, label, note) in enumerate(cells):
            name = "–" if label is None else categories[label]
            lines = [(name, RIGHT if label == truth else WRONG), (note, (90, 90, 90))]
            canvas.paste(_cell(thumb, lines), (CELL * column, header + row * (CELL + CAPTION)))
    canvas.save(path, "PNG", optimize=True)


def _visibility(row: Any) -> str:
    ours, butter = row.measure("ssimulacra2"), row.measure("butteraugli")
    if ours is None:
        return "–"
    return f"SSIMU2 {ours:.1f}" + ("" if butter is None else f" BA {butter:.1f}")


def crop_sheet(sheet: Sequence[dict[str, Any]], path: Path) -> None:
    """Each photo's crops where the change is largest: a row at 1x, then a row at 2x (every
    pixel shown as 2x2), the original first, then each configuration. For looking by eye."""
    entries = [entry for entry in sheet if "crops" in entry]
    if not entries:
        raise ValueError("no crops for the sheet")
    keys = list(entries[0]["protected"])
    size = max(crop.shape[0] for entry in entries for crop in entry["crops"])
    header, caption = 22, 18
    columns = 1 + len(keys)
    canvas = Image.new(
        "RGB", (columns * (size + 4), header + 2 * len(entries) * (size + caption)), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for column, title in enumerate(["original", *("/".join(key) for key in keys)]):
        draw.text((column * (size + 4) + 4, 4), title[:36], fill="black", font=_font())
    top = header
    for entry in entries:
        for scale in (0, 1):
            images = [entry["crops"][scale]]
            images += [crops[scale] if crops else None for *_, crops in entry["protected"].values()]
            for column, pixels in enumerate(images):
                if pixels is not None:
                    canvas.paste(Image.fromarray(pixels), (column * (size + 4), top))
            note = f"{entry['file']} at {1 + scale}x"
            draw.text((4, top + size + 2), note, fill=GREY, font=_font())
            top += size + caption
    canvas.save(path, "PNG", optimize=True)
