"""The audit's before/after pictures of a track: its polylines and the privacy zones, drawn
with Pillow (no map tiles offline)."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from activities.zones import EARTH_RADIUS_M, PrivacyZone

__all__ = ["draw_track"]

SIZE = (320, 240)
MARGIN = 12
BACKGROUND, TRACK, ZONE = (250, 250, 247), (32, 92, 196), (214, 69, 65)

Line = list[tuple[float, float]]


def draw_track(lines: list[Line], zones: tuple[PrivacyZone, ...], frame: list[Line]) -> bytes:
    """A PNG of ``lines`` with ``zones`` as red circles, scaled to fit ``frame`` (the same
    for the before and after pictures, so that they line up)."""
    points = [point for line in frame for point in line] or [
        (z.latitude, z.longitude) for z in zones
    ]
    image = Image.new("RGB", SIZE, BACKGROUND)
    if not points:
        return _png(image)
    lat0 = sum(p[0] for p in points) / len(points)
    scale_x = math.cos(math.radians(lat0))

    def metres(lat: float, lon: float) -> tuple[float, float]:
        return (
            math.radians(lon) * EARTH_RADIUS_M * scale_x,
            -math.radians(lat) * EARTH_RADIUS_M,
        )

    xy = [metres(*p) for p in points]
    for zone in zones:
        x, y = metres(zone.latitude, zone.longitude)
        xy += [(x - zone.radius_m, y - zone.radius_m), (x + zone.radius_m, y + zone.radius_m)]
    left, right = min(p[0] for p in xy), max(p[0] for p in xy)
    top, bottom = min(p[1] for p in xy), max(p[1] for p in xy)
    span = max(right - left, bottom - top, 1.0)
    fit = min(SIZE[0] - 2 * MARGIN, SIZE[1] - 2 * MARGIN) / span
    offset = (
        (SIZE[0] - (right - left) * fit) / 2 - left * fit,
        (SIZE[1] - (bottom - top) * fit) / 2 - top * fit,
    )

    def pixel(lat: float, lon: float) -> tuple[float, float]:
        x, y = metres(lat, lon)
        return x * fit + offset[0], y * fit + offset[1]

    draw = ImageDraw.Draw(image)
    for zone in zones:
        cx, cy = pixel(zone.latitude, zone.longitude)
        r = zone.radius_m * fit
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ZONE, width=2)
    for line in lines:
        if len(line) > 1:
            draw.line([pixel(*p) for p in line], fill=TRACK, width=2, joint="curve")
        elif line:
            x, y = pixel(*line[0])
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=TRACK)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
