"""A zone's strength: how far its hidden area reaches, and so how far from home the centroid
of many tracks' ends settles (the attack a varying cut alone does not stop)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from activities.attack import guess_errors
from activities.track import TrackSettings
from activities.zones import DEFAULT_ZONE_STRENGTH, ZONE_STRENGTHS, PrivacyZone, hidden_mask
from tests.activities.samples import HOME, loop

TRACKS = [
    loop(float(heading), leg_m=4000.0, step_m=25.0, seed=index)
    for index, heading in enumerate(np.random.default_rng(5).uniform(0, 360, 60))
]


def _ends(zone: PrivacyZone) -> list[tuple[float, float]]:
    settings = TrackSettings((zone,), secret=b"one install")
    ends = []
    for index, track in enumerate(TRACKS):
        lat, lon = track.latitudes, track.longitudes
        kept = np.flatnonzero(~hidden_mask(settings.areas(f"{index}".encode()), lat, lon))
        ends += [(lat[kept[0]], lon[kept[0]]), (lat[kept[-1]], lon[kept[-1]])]
    return ends


def test_the_default_strength_keeps_the_centroid_of_many_tracks_beyond_the_zone() -> None:
    """Sixty tracks in every direction: their ends' centroid lands beyond the zone's radius at
    the default strength, further at each stronger one; the circle fit finds the hidden
    area's centre, further still."""
    misses = {
        strength: guess_errors(_ends(replace(HOME, strength=strength)), HOME)
        for strength in ZONE_STRENGTHS
    }
    centroid = [misses[strength]["centroid"] for strength in ZONE_STRENGTHS]
    assert centroid == sorted(centroid)
    assert misses[DEFAULT_ZONE_STRENGTH]["centroid"] >= 1.2 * HOME.radius_m
    for strength in ZONE_STRENGTHS:
        assert misses[strength]["circle_fit"] >= 2 * HOME.radius_m


def test_an_unknown_strength_is_refused() -> None:
    with pytest.raises(ValueError, match="strength must be one of standard, strong, strongest"):
        replace(HOME, strength="maximal")
