"""Privacy zones and the area each upload hides around them.

A zone is a point the user wants hidden (home, work) and a radius. Hiding exactly that
circle gives it away: where twenty tracks enter and leave a fixed circle, a circle fit finds
its centre. So the area hidden around a zone is never that circle:

- its centre sits at a fixed, secret offset from the zone (in a direction drawn from the
  install's secret; how far, the zone's ``strength``): a circle fit to many uploads' cut
  points finds that centre, not home. Their centroid lands about halfway (tracks leave home
  in every direction; rays from a point off a circle's centre meet it closer to that point):
  with tracks in every direction it tends to 1.0 radius from home at ``standard``, 1.45 at
  ``strong``, 2.0 at ``strongest``; 20 tracks scatter it around that. The price: to cover the
  zone, the area reaches about 5.5, 7.5 and 9.5 radii from home on that side (and 1 radius on
  the other);
- each upload moves that centre a little and draws its own radius and a wavy boundary, from
  a seed of its own: no two uploads cut at the same line.

Every hidden area still covers the whole zone: no kept point lies within the zone's radius.
Pure geometry; nothing of files or HTTP.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_ZONE_STRENGTH",
    "EARTH_RADIUS_M",
    "ZONE_STRENGTHS",
    "HiddenArea",
    "PrivacyZone",
    "distance_m",
    "hidden_areas",
    "hidden_mask",
]

EARTH_RADIUS_M = 6_371_000.0
DEFAULT_RADIUS_M = 500.0
# The secret offset of a hidden area's centre from its zone, in zone radii, by strength:
# further hides more of each track and moves the tracks' centroid further from home.
ZONE_STRENGTHS: dict[str, tuple[float, float]] = {
    "standard": (2.0, 2.2),
    "strong": (3.0, 3.2),
    "strongest": (4.0, 4.2),
}
# The centroid of many tracks tends to 2 radii from home: 20 tracks in random directions
# scatter it by about a radius, and only here does every home stay a radius away or more.
DEFAULT_ZONE_STRENGTH = "strongest"
# How far one upload moves that centre, and how much it may widen the radius, in zone radii.
JITTER_RADII = 0.05
EXTRA_RADII = 0.1
# The boundary's waves: this many harmonics, each at most this share of the zone's radius.
WAVES, WAVE_DEPTH = 3, 0.05


@dataclass(frozen=True)
class PrivacyZone:
    """A place to hide: ``latitude``/``longitude`` in degrees, ``radius_m`` in metres."""

    name: str
    latitude: float
    longitude: float
    radius_m: float = DEFAULT_RADIUS_M
    strength: str = DEFAULT_ZONE_STRENGTH  # a key of ZONE_STRENGTHS

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise ValueError(f"zone {self.name!r}: latitude/longitude out of range")
        if not 50 <= self.radius_m <= 50_000:
            raise ValueError(f"zone {self.name!r}: the radius must be 50 m to 50 km")
        if self.strength not in ZONE_STRENGTHS:
            raise ValueError(
                f"zone {self.name!r}: strength must be one of {', '.join(ZONE_STRENGTHS)}"
            )


def _offset(lat: float, lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def _local_m(lat0: float, lon0: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """East/north metres of points from (lat0, lon0): flat within a few kilometres."""
    north = np.radians(lat - lat0) * EARTH_RADIUS_M
    east = np.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    return np.stack([east, north], axis=-1)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class HiddenArea:
    """What one upload hides around one zone: a wavy disc that covers the zone."""

    zone: PrivacyZone
    latitude: float  # the area's centre
    longitude: float
    radius_m: float  # its smallest radius; waves only widen it
    waves: tuple[tuple[float, float, int], ...]  # (depth in metres, phase, harmonic)

    def radius_at(self, bearing: np.ndarray) -> np.ndarray:
        radius = np.full_like(bearing, self.radius_m, dtype=float)
        for depth, phase, harmonic in self.waves:
            radius += depth * (1 + np.sin(harmonic * bearing + phase)) / 2
        return radius

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Which points (degrees, arrays of one shape) lie inside."""
        local = _local_m(self.latitude, self.longitude, np.asarray(lat), np.asarray(lon))
        bearing = np.arctan2(local[..., 1], local[..., 0])
        return np.hypot(local[..., 0], local[..., 1]) <= self.radius_at(bearing)


def _uniforms(key: bytes, label: str, count: int) -> list[float]:
    digest = hashlib.sha256(key + b"\x00" + label.encode()).digest()
    return [int.from_bytes(digest[4 * i : 4 * i + 4], "big") / 2**32 for i in range(count)]


def hidden_areas(
    zones: tuple[PrivacyZone, ...], secret: bytes, upload_seed: bytes
) -> list[HiddenArea]:
    """The areas one upload hides: ``secret`` is the install's (fixes each zone's offset),
    ``upload_seed`` the upload's own (e.g. a hash of the file: the same file, the same cut)."""
    areas = []
    for zone in zones:
        zone_key = secret + f"{zone.latitude:.6f},{zone.longitude:.6f},{zone.radius_m:.1f}".encode()
        angle_u, distance_u = _uniforms(zone_key, "offset", 2)
        low, high = ZONE_STRENGTHS[zone.strength]
        offset = zone.radius_m * (low + (high - low) * distance_u)
        angle = 2 * math.pi * angle_u
        upload_u = _uniforms(zone_key + upload_seed, "upload", 3 + 2 * WAVES)
        jitter = JITTER_RADII * zone.radius_m * math.sqrt(upload_u[0])
        jitter_angle = 2 * math.pi * upload_u[1]
        east = offset * math.cos(angle) + jitter * math.cos(jitter_angle)
        north = offset * math.sin(angle) + jitter * math.sin(jitter_angle)
        lat, lon = _offset(zone.latitude, zone.longitude, east, north)
        # Covers the zone: from the area's centre, the zone's far edge is this far at most.
        cover = math.hypot(east, north) + zone.radius_m
        radius = cover + EXTRA_RADII * zone.radius_m * upload_u[2]
        waves = tuple(
            (
                WAVE_DEPTH * zone.radius_m * upload_u[3 + 2 * i],
                2 * math.pi * upload_u[4 + 2 * i],
                i + 2,
            )
            for i in range(WAVES)
        )
        areas.append(HiddenArea(zone, lat, lon, radius, waves))
    return areas


def hidden_mask(areas: list[HiddenArea], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Which points any area hides."""
    mask = np.zeros(np.shape(lat), dtype=bool)
    for area in areas:
        mask |= area.contains(lat, lon)
    return mask
