"""The audit's before/after pictures of an accelerometer stream: a few seconds of its
magnitude, drawn with Pillow in the style of :mod:`activities.drawing`, and a track's
picture with that strip under it when a FIT file went through both filters."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from activities.drawing import BACKGROUND, SIZE, TRACK

__all__ = ["STRIP_SIZE", "below", "draw_motion"]

STRIP_SIZE = (SIZE[0], 96)  # under a track's picture
MARGIN = 8
GRAVITY_LINE, TEXT = (200, 200, 196), (110, 110, 106)


def draw_motion(
    trace: list[float], frame: list[list[float]], size: tuple[int, int] = SIZE
) -> bytes:
    """A PNG of ``trace`` (|acceleration| in g, evenly spaced), scaled to fit every trace
    of ``frame`` (the before and after ones, so that the two pictures line up), with a grey
    line at 1 g (gravity alone)."""
    width, height = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    values = [value for line in frame for value in line] + [1.0]
    low, high = min(values), max(values)
    span = max(high - low, 1e-6)
    top, bottom = MARGIN + 12, height - MARGIN  # room for the caption

    def y(value: float) -> float:
        return bottom - (value - low) / span * (bottom - top)

    draw.line([(MARGIN, y(1.0)), (width - MARGIN, y(1.0))], fill=GRAVITY_LINE, width=1)
    draw.text((MARGIN, 2), f"accelerometer |a|, {low:.1f} to {high:.1f} g", fill=TEXT)
    if len(trace) > 1:
        step = (width - 2 * MARGIN) / (len(trace) - 1)
        points = [(MARGIN + i * step, y(value)) for i, value in enumerate(trace)]
        draw.line(points, fill=TRACK, width=1)
    return _png(image)


def below(top: bytes, bottom: bytes) -> bytes:
    """One PNG: ``top``'s picture with ``bottom``'s under it."""
    upper, lower = Image.open(io.BytesIO(top)), Image.open(io.BytesIO(bottom))
    image = Image.new(
        "RGB", (max(upper.width, lower.width), upper.height + lower.height), BACKGROUND
    )
    image.paste(upper.convert("RGB"), (0, 0))
    image.paste(lower.convert("RGB"), (0, upper.height))
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
