"""Activity uploads through a real `veil run`: a GPX in a multipart form (as Strava's upload
API takes it) and a raw FIT body arrive with the zone empty and the serial gone, audited with
drawings; a broken FIT file is blocked and never reaches the site."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import gpxpy
import pytest
from garmin_fit_sdk import Decoder, Stream

from activities.zones import distance_m
from tests.activities.samples import HOME, SERIAL, loop, to_fit, to_gpx
from tests.e2e import Upstream, serve_site, start_veil

pytestmark = pytest.mark.e2e

SITE = "www.strava-test.example"
ZONES = {
    "zones": [
        {"name": "home", "latitude": HOME.latitude, "longitude": HOME.longitude, "radius_m": 500}
    ]
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [SITE])


def _outside_the_zone(points: list[tuple[float, float]]) -> bool:
    return bool(points) and all(
        distance_m(lat, lon, HOME.latitude, HOME.longitude) > HOME.radius_m for lat, lon in points
    )


def test_activity_uploads_leave_without_home_or_serial(tmp_path: Path, upstream: Upstream) -> None:
    run = loop(heading_deg=200.0, leg_m=4000.0, step_m=20.0)
    gpx, fit = to_gpx(run), to_fit(run)
    broken = bytearray(fit)
    broken[300] ^= 0xFF
    veil = start_veil(tmp_path / "home", upstream, {SITE: ["metadata", "track-privacy"]})
    try:
        assert veil.api("PUT", "/zones", json=ZONES).status_code == 200
        with veil.client() as client:
            files = {"file": ("morning.gpx", io.BytesIO(gpx), "application/gpx+xml")}
            sent = client.post(
                f"https://{SITE}/api/v3/uploads", files=files, data={"data_type": "gpx"}
            )
            assert sent.status_code == 200, sent.text
            raw = client.post(f"https://{SITE}/upload/fit", content=fit)
            assert raw.status_code == 200, raw.text
            refused = client.post(f"https://{SITE}/upload/broken", content=bytes(broken))
        rows = veil.audit(SITE, want=3)
    finally:
        veil.stop()
    assert refused.status_code == 403 and "cannot protect the FIT file" in refused.text
    assert upstream.bodies("/upload/broken") == []
    (form,) = upstream.bodies("/api/v3/uploads")
    assert b'name="data_type"' in form and b"3987654321" not in form
    start = form.index(b"<?xml")
    arrived = gpxpy.parse(form[start : form.index(b"</gpx>") + 6].decode())
    assert _outside_the_zone([(p.latitude, p.longitude) for p in arrived.walk(only_points=True)])
    (fit_sent,) = upstream.bodies("/upload/fit")
    messages, errors = Decoder(Stream.from_byte_array(bytearray(fit_sent))).read()
    assert errors == [] and "serial_number" not in messages["file_id_mesgs"][0]
    semicircle = 180 / 2**31
    positions = [
        (r["position_lat"] * semicircle, r["position_long"] * semicircle)
        for r in messages["record_mesgs"]
        if "position_lat" in r
    ]
    assert _outside_the_zone(positions) and SERIAL
    by_path = {row["path"]: row for row in rows}
    for path, kind in (("/api/v3/uploads", "GPX"), ("/upload/fit", "FIT")):
        row = by_path[path]
        assert (row["outcome"], row["format"]) == ("protected", kind)
        assert row["metadata_removed"][0].endswith("positions (privacy zones)")
        assert row["thumbnails"] == ["before", "after"]
    assert by_path["/upload/broken"]["outcome"] == "blocked"
