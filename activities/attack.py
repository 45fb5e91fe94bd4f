"""The home-finding attack ``veil bench --activities`` and the tests run against
``track-privacy``: from many protected activities that start and end at one home, guess the
home from where the tracks appear and disappear (their first and last kept points), by
centroid and by a least-squares circle fit; and, where a file tells how long or how far the
track ran before its first kept point or after its last, by multilateration (home lies that
far from each exit)."""

from __future__ import annotations

import math

import numpy as np

from activities.zones import EARTH_RADIUS_M, PrivacyZone, distance_m

__all__ = ["centroid_guess", "circle_fit_guess", "guess_errors", "multilateration_guess"]

Point = tuple[float, float]  # (latitude, longitude)


def _local(points: list[Point], origin: Point) -> np.ndarray:
    lat = np.radians(np.array([p[0] for p in points]) - origin[0]) * EARTH_RADIUS_M
    lon = np.radians(np.array([p[1] for p in points]) - origin[1]) * EARTH_RADIUS_M
    return np.stack([lon * math.cos(math.radians(origin[0])), lat], axis=1)


def _degrees(xy: np.ndarray, origin: Point) -> Point:
    lat = origin[0] + math.degrees(xy[1] / EARTH_RADIUS_M)
    lon = origin[1] + math.degrees(xy[0] / (EARTH_RADIUS_M * math.cos(math.radians(origin[0]))))
    return lat, lon


def centroid_guess(ends: list[Point]) -> Point:
    """The mean of the points where tracks start and end."""
    return float(np.mean([p[0] for p in ends])), float(np.mean([p[1] for p in ends]))


def circle_fit_guess(ends: list[Point]) -> Point:
    """The centre of the circle that fits those points best (Kasa's algebraic fit)."""
    origin = centroid_guess(ends)
    xy = _local(ends, origin)
    a = np.column_stack([2 * xy[:, 0], 2 * xy[:, 1], np.ones(len(xy))])
    b = (xy**2).sum(axis=1)
    (cx, cy, _), *_ = np.linalg.lstsq(a, b, rcond=None)
    return _degrees(np.array([cx, cy]), origin)


def multilateration_guess(exits: list[Point], radii: list[float]) -> Point:
    """The point whose distances to ``exits`` best match ``radii`` (metres): least squares
    on |home - exit_i| = radius_i, by Gauss-Newton from the exits' centroid. With every
    radius 0 (a file that says nothing of its hidden ends) that is the centroid."""
    origin = centroid_guess(exits)
    xy = _local(exits, origin)
    radii_a = np.asarray(radii, dtype=float)
    home = xy.mean(axis=0)
    for _ in range(200):
        offsets = home - xy
        lengths = np.maximum(np.hypot(offsets[:, 0], offsets[:, 1]), 1e-6)
        step, *_ = np.linalg.lstsq(offsets / lengths[:, None], radii_a - lengths, rcond=None)
        home = home + step
        if math.hypot(*step) < 1e-3:
            break
    return _degrees(home, origin)


def guess_errors(ends: list[Point], zone: PrivacyZone) -> dict[str, float]:
    """How far each guess lands from the zone's centre, in metres."""
    return {
        name: distance_m(*guess(ends), zone.latitude, zone.longitude)
        for name, guess in (("centroid", centroid_guess), ("circle_fit", circle_fit_guess))
    }
