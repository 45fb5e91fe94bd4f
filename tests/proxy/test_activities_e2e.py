"""Activity uploads through a real `veil run`: a GPX in a multipart form (as Strava's upload
API takes it) and a raw FIT body arrive with the zone empty and the serial gone, audited with
drawings; a broken FIT file is blocked and never reaches the site. With motion-anonymise too,
a FIT file's accelerometer is rewritten and its gyroscope gone, a CSV sensor upload arrives
anonymised (a gzipped one gzipped again), the site's ordinary JSON calls pass untouched, and
accelerometer data that cannot be rewritten never leaves."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

import gpxpy
import pytest
from garmin_fit_sdk import Decoder, Stream

from activities.zones import distance_m
from proxy.multipart import parse_multipart
from tests.activities.samples import HOME, SERIAL, loop, to_fit, to_gpx
from tests.e2e import Upstream, serve_site, start_veil
from tests.proxy.test_activityparts import sensor_csv
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body

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


def _sdk_read(data: bytes) -> dict:
    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    assert errors == []
    return messages


def _positions(messages: dict) -> list[tuple[float, float]]:
    semicircle = 180 / 2**31
    return [
        (r["position_lat"] * semicircle, r["position_long"] * semicircle)
        for r in messages["record_mesgs"]
        if "position_lat" in r
    ]


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
    messages = _sdk_read(fit_sent)
    assert "serial_number" not in messages["file_id_mesgs"][0]
    assert _outside_the_zone(_positions(messages)) and SERIAL
    by_path = {row["path"]: row for row in rows}
    for path, kind in (("/api/v3/uploads", "GPX"), ("/upload/fit", "FIT")):
        row = by_path[path]
        assert (row["outcome"], row["format"]) == ("protected", kind)
        assert row["metadata_removed"][0].endswith("positions (privacy zones)")
        assert row["thumbnails"] == ["before", "after"]
    assert by_path["/upload/broken"]["outcome"] == "blocked"


def test_motion_leaves_anonymised_and_other_json_untouched(
    tmp_path: Path, upstream: Upstream
) -> None:
    # Long enough to leave the hidden area, which reaches up to 9.5 radii (4.75 km) at the
    # default, `strongest`.
    fit = to_fit(loop(heading_deg=120.0, leg_m=6000.0, step_m=40.0), accel_hz=50, gyro=True)
    sensors = sensor_csv()
    api_call = json.dumps({"name": "Lunch run", "points": [{"x": 1, "y": 2, "z": 3}]}).encode()
    broken_csv = b"time,accX,accY,accZ\n0,0.1,0.2,oops\n20,0.1,0.2,0.9\n"
    broken_json = b'{"accelerometer": {"x": [1, 2], "y": [1], "z": [1, 2]}}'
    filters = ["metadata", "track-privacy", "motion-anonymise"]
    veil = start_veil(tmp_path / "home", upstream, {SITE: filters})
    try:
        assert veil.api("PUT", "/zones", json=ZONES).status_code == 200
        with veil.client() as client:
            sent = {
                path: client.post(
                    f"https://{SITE}{path}", content=body, headers={"Content-Type": kind}
                )
                for path, body, kind in (
                    ("/motion/fit", fit, "application/octet-stream"),
                    ("/motion/csv", sensors, "text/csv"),
                    ("/api/v3/activities", api_call, "application/json"),
                    ("/motion/broken-csv", broken_csv, "text/csv"),
                    ("/motion/broken-json", broken_json, "application/json"),
                )
            }
        rows = veil.audit(SITE, want=4)
    finally:
        veil.stop()
    for path in ("/motion/fit", "/motion/csv", "/api/v3/activities"):
        assert sent[path].status_code == 200, sent[path].text
    for path, kind in (("/motion/broken-csv", "CSV"), ("/motion/broken-json", "JSON")):
        assert (
            sent[path].status_code == 403 and f"cannot protect the {kind} file" in sent[path].text
        )
        assert upstream.bodies(path) == []
    assert upstream.bodies("/api/v3/activities") == [api_call]  # byte for byte
    (fit_sent,) = upstream.bodies("/motion/fit")
    before, after = _sdk_read(fit), _sdk_read(fit_sent)
    assert "serial_number" not in after["file_id_mesgs"][0] and SERIAL
    assert _outside_the_zone(_positions(after))
    accel = [[m["accel_x"] for m in found["accelerometer_data_mesgs"]] for found in (before, after)]
    # The batches of the records cut with the hidden ends went with them; the rest changed.
    assert 0 < len(accel[1]) < len(accel[0])
    assert not {tuple(x) for x in accel[1]} & {tuple(x) for x in accel[0]}
    assert all(m.get("gyro_x") is None for m in after["gyroscope_data_mesgs"])
    (csv_sent,) = upstream.bodies("/motion/csv")
    rows_before = list(csv.reader(io.StringIO(sensors.decode())))
    rows_after = list(csv.reader(io.StringIO(csv_sent.decode())))
    assert len(rows_after) == len(rows_before) and rows_after[0] == rows_before[0]
    assert [r[:2] for r in rows_after] == [r[:2] for r in rows_before]  # the times
    assert [r[2:] for r in rows_after[1:]] != [r[2:] for r in rows_before[1:]]
    by_path = {row["path"]: row for row in rows}
    fit_row, csv_row = by_path["/motion/fit"], by_path["/motion/csv"]
    assert (fit_row["outcome"], fit_row["format"]) == ("protected", "FIT")
    removed = fit_row["metadata_removed"]
    assert removed[0].endswith("positions (privacy zones)") and "gyroscope data" in removed
    assert any("accelerometer samples anonymised" in line for line in removed)
    assert (csv_row["outcome"], csv_row["format"]) == ("protected", "CSV")
    assert csv_row["metadata_removed"][0].startswith("300 accelerometer samples anonymised")
    assert fit_row["thumbnails"] == csv_row["thumbnails"] == ["before", "after"]
    assert "/api/v3/activities" not in by_path
    assert (
        by_path["/motion/broken-csv"]["outcome"]
        == by_path["/motion/broken-json"]["outcome"]
        == "blocked"
    )


def test_a_gzipped_sensor_upload_leaves_anonymised_and_gzipped(
    tmp_path: Path, upstream: Upstream
) -> None:
    sensors = sensor_csv()
    form = form_body(
        [
            field("name", b"Morning walk"),
            file_part("file", "Accelerometer.csv.gz", "application/gzip", gzip.compress(sensors)),
        ]
    )
    veil = start_veil(tmp_path / "home", upstream, {SITE: ["motion-anonymise"]})
    try:
        with veil.client() as client:
            sent = client.post(
                f"https://{SITE}/motion/csv-gz",
                content=form,
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            )
        (row,) = veil.audit(SITE, "/motion/csv-gz")
    finally:
        veil.stop()
    assert sent.status_code == 200, sent.text
    (arrived,) = upstream.bodies("/motion/csv-gz")
    name, packed = parse_multipart(arrived, BOUNDARY).parts
    assert name.body == b"Morning walk" and packed.filename == "Accelerometer.csv.gz"
    assert packed.body.startswith(b"\x1f\x8b")  # gzip still, as the site asked for
    rows_before = list(csv.reader(io.StringIO(sensors.decode())))
    rows_after = list(csv.reader(io.StringIO(gzip.decompress(packed.body).decode())))
    assert len(rows_after) == len(rows_before) and rows_after[0] == rows_before[0]
    assert [r[:2] for r in rows_after] == [r[:2] for r in rows_before]  # the times
    assert [r[2:] for r in rows_after[1:]] != [r[2:] for r in rows_before[1:]]
    assert (row["outcome"], row["format"]) == ("protected", "CSV")
    assert row["metadata_removed"][0].startswith("300 accelerometer samples anonymised")
