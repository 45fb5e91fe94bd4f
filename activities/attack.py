"""The home-finding attack ``veil bench --activities`` and the tests run against
``track-privacy``: from many protected activities that start and end at one home, guess the
home from where the tracks appear and disappear (their first and last kept points), by
centroid and by a least-squares circle fit."""

from __future__ import annotations

import math

import numpy as np

from activities.zones import EARTH_RADIUS_M, PrivacyZone, distance_m

__all__ = ["centroid_guess", "circle_fit_guess", "guess_errors"]

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


def guess_errors(ends: list[Point], zone: PrivacyZone) -> dict[str, float]:
    """How far each guess lands from the zone's centre, in metres."""
    return {
        name: distance_m(*guess(ends), zone.latitude, zone.longitude)
        for name, guess in (("centroid", centroid_guess), ("circle_fit", circle_fit_guess))
    }
