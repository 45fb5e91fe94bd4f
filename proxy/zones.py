"""The user's privacy zones as the control API and the store carry them: JSON in, checked,
out again. What hiding them means lives in ``activities.zones``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from activities.track import START_TIMES, StartTime
from activities.zones import DEFAULT_RADIUS_M, DEFAULT_ZONE_STRENGTH, ZONE_STRENGTHS, PrivacyZone

__all__ = [
    "MAX_NAME",
    "MAX_ZONES",
    "NAME_PATTERN",
    "ZoneError",
    "Zones",
    "ensure_zone_secret",
    "parse_zones",
]

SECRET_BYTES = 32

MAX_ZONES = 16
MAX_NAME = 40
# A name is a label: anything with one visible character. The classes Python's \s and
# ECMAScript's (the OpenAPI pattern's) disagree on are spelt out, so both read it alike.
NAME_PATTERN = r"[^\s\x1c-\x1f\x85\ufeff]"
_KEYS = frozenset({"zones", "start_time"})
_ZONE_KEYS = frozenset({"name", "latitude", "longitude", "radius_m", "strength"})


class ZoneError(ValueError):
    """Zones the API cannot take: the message says which and why."""


@dataclass(frozen=True)
class Zones:
    zones: tuple[PrivacyZone, ...] = ()
    start_time: StartTime = "minute"

    def to_dict(self) -> dict[str, object]:
        return {
            "zones": [
                {
                    "name": z.name,
                    "latitude": z.latitude,
                    "longitude": z.longitude,
                    "radius_m": z.radius_m,
                    "strength": z.strength,
                }
                for z in self.zones
            ],
            "start_time": self.start_time,
        }


def _number(zone: Mapping[str, object], key: str, low: float, high: float) -> float:
    value = zone.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ZoneError(
            f"zone {zone.get('name')!r}: {key} must be a number from {low:g} to {high:g}"
        )
    return float(value)


def parse_zones(data: object) -> Zones:
    """``{"zones": [{"name", "latitude", "longitude", "radius_m", "strength"}],
    "start_time"}`` checked; ``radius_m`` and ``strength`` may be left out.

    Raises:
        ZoneError: not that shape, or a value out of range.
    """
    if not isinstance(data, dict) or set(data) - _KEYS or "zones" not in data:
        raise ZoneError('the body must be {"zones": [...], "start_time": "minute"}')
    zones, start_time = data["zones"], data.get("start_time", "minute")
    if start_time not in START_TIMES:
        raise ZoneError(f"start_time must be one of {', '.join(START_TIMES)}")
    if not isinstance(zones, list) or len(zones) > MAX_ZONES:
        raise ZoneError(f"zones must be a list of at most {MAX_ZONES} zones")
    parsed = []
    for zone in zones:
        if (
            not isinstance(zone, dict)
            or set(zone) - _ZONE_KEYS
            or not {"name", "latitude", "longitude"} <= set(zone)
        ):
            raise ZoneError("each zone is {name, latitude, longitude, radius_m, strength}")
        name = zone["name"]
        if not isinstance(name, str) or not re.search(NAME_PATTERN, name) or len(name) > MAX_NAME:
            raise ZoneError(f"a zone's name must be 1 to {MAX_NAME} characters, not all spaces")
        strength = zone.get("strength", DEFAULT_ZONE_STRENGTH)
        if not isinstance(strength, str) or strength not in ZONE_STRENGTHS:
            raise ZoneError(f"zone {name!r}: strength must be one of {', '.join(ZONE_STRENGTHS)}")
        parsed.append(
            PrivacyZone(
                name,
                _number(zone, "latitude", -90, 90),
                _number(zone, "longitude", -180, 180),
                _number({"radius_m": DEFAULT_RADIUS_M, **zone}, "radius_m", 50, 50_000),
                str(strength),
            )
        )
    return Zones(tuple(parsed), start_time)


def ensure_zone_secret(path: Path) -> bytes:
    """The install's secret that fixes where each zone's hidden area sits, made once (0600).

    Lose it and the areas move: uploads from before and after together could then reveal
    more. It never leaves the machine.
    """
    try:
        secret = path.read_bytes()
        if len(secret) == SECRET_BYTES:
            return secret
    except FileNotFoundError:
        pass
    secret = os.urandom(SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret
