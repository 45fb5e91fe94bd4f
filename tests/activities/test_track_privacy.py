"""track-privacy on GPX, TCX and FIT: files stay valid for the field's own parsers, no kept
point lies within a zone, the device and creator go, heart rate stays, the start is
coarsened and durations kept, and a broken file is refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import struct
import xml.etree.ElementTree as ET
from dataclasses import replace

import fitdecode
import gpxpy
import numpy as np
import pytest
from garmin_fit_sdk import Decoder, Stream

from activities.attack import guess_errors
from activities.fit import FitError, fit_crc
from activities.formats import sniff_activity
from activities.track import TrackSettings
from activities.track_privacy import TrackPrivacy
from activities.zones import distance_m, hidden_mask
from batch.timing_attack import published_ends
from tests.activities.samples import (
    HOME,
    SERIAL,
    Activity,
    loop,
    to_fit,
    to_gpx,
    to_tcx,
)

# At `strong` this loop (4 km legs) leaves the hidden area once and does not come back; at
# the default, `strongest`, the area reaches 4.75 km and the loop passes through it again.
SETTINGS = TrackSettings((replace(HOME, strength="strong"),), secret=b"install secret")
TCX = {"t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"}


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    return loop(heading_deg=30.0, leg_m=4000.0, step_m=10.0)


def _outside(points: list[tuple[float, float]]) -> None:
    assert points, "the whole track was hidden"
    nearest = min(distance_m(lat, lon, HOME.latitude, HOME.longitude) for lat, lon in points)
    assert nearest > HOME.radius_m


def test_gpx_keeps_no_point_in_the_zone_nor_the_creator(run) -> None:  # type: ignore[no-untyped-def]
    original = to_gpx(run)
    result = TrackPrivacy().apply(original, SETTINGS)
    gpx = gpxpy.parse(result.data.decode())
    points = [p for track in gpx.tracks for seg in track.segments for p in seg.points]
    _outside([(p.latitude, p.longitude) for p in points])
    assert b"3987654321" not in result.data and b"Alex Runner" not in result.data
    assert b"Forerunner" not in result.data and gpx.creator == "Veil"
    # Kept points are the originals, untouched: the distance outside the zone is the same.
    times = {(p.latitude, p.longitude): p.time for p in gpxpy.parse(original.decode()).walk(True)}
    assert {(p.latitude, p.longitude) for p in points} <= set(times)
    assert all("hr" in ET.tostring(p.extensions[0]).decode() for p in points)
    # The first kept point's time coarsened to the minute: every time moved by as much.
    first = times[(points[0].latitude, points[0].longitude)]
    shift = dt.timedelta(seconds=-first.second, microseconds=-first.microsecond)
    assert result.report.time_shift_s == shift.total_seconds() and points[0].time.second == 0
    assert all(p.time == times[(p.latitude, p.longitude)] + shift for p in points)
    assert result.report.points_hidden > 0 and "creator" in result.report.fields_removed


def test_tcx_keeps_no_point_in_the_zone_nor_the_device(run) -> None:  # type: ignore[no-untyped-def]
    result = TrackPrivacy().apply(to_tcx(run), SETTINGS)
    root = ET.fromstring(result.data)
    points = root.findall(".//t:Trackpoint", TCX)
    positions = [
        (
            float(p.findtext("t:Position/t:LatitudeDegrees", namespaces=TCX)),
            float(p.findtext("t:Position/t:LongitudeDegrees", namespaces=TCX)),
        )
        for p in points
    ]
    _outside(positions)
    assert root.find(".//t:Creator", TCX) is None and root.find("t:Author", TCX) is None
    assert str(SERIAL).encode() not in result.data
    assert all(p.find("t:HeartRateBpm/t:Value", TCX) is not None for p in points)
    assert b"Watts" in result.data  # the extensions stay
    # Distances count from where the kept track starts, not from home.
    first_distance = float(points[0].findtext("t:DistanceMeters", namespaces=TCX))
    assert first_distance == 0.0
    first_time = points[0].findtext("t:Time", namespaces=TCX)
    assert root.findtext(".//t:Id", namespaces=TCX) == first_time and first_time.endswith(
        ":00.000Z"
    )
    assert len(root.findall(".//t:Track", TCX)) >= 1


@pytest.mark.parametrize("accel_hz", [0, pytest.param(25, marks=pytest.mark.slow)])
def test_fit_stays_valid_for_garmin_and_fitdecode_and_hides_the_zone(run, accel_hz: int) -> None:  # type: ignore[no-untyped-def]
    original = to_fit(run, accel_hz=accel_hz)
    result = TrackPrivacy().apply(original, SETTINGS)
    kept_rows = np.flatnonzero(~_hidden(run, original))
    span = slice(kept_rows[0], kept_rows[-1] + 1)  # the records before and after went
    decoder = Decoder(Stream.from_byte_array(bytearray(result.data)))
    assert decoder.check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(result.data))).read()
    assert errors == []
    records = messages["record_mesgs"]
    assert len(records) == len(run.latitudes[span])  # the span's, with their heart rate
    assert all(r.get("heart_rate") for r in records)
    semicircle = 180 / 2**31
    kept = [r for r in records if r.get("position_lat") is not None]
    _outside([(r["position_lat"] * semicircle, r["position_long"] * semicircle) for r in kept])
    assert kept[0]["distance"] == 0.0  # counted from where the kept track starts
    assert "serial_number" not in messages["file_id_mesgs"][0]
    assert "serial_number" not in messages["device_info_mesgs"][0]
    assert "start_position_lat" not in messages["session_mesgs"][0]  # it was home
    before, _ = Decoder(Stream.from_byte_array(bytearray(original))).read()
    first = before["record_mesgs"][kept_rows[0]]["timestamp"]
    last = before["record_mesgs"][kept_rows[-1]]["timestamp"]
    assert messages["file_id_mesgs"][0]["time_created"] == first.replace(second=0)
    assert records[-1]["timestamp"] - records[0]["timestamp"] == last - first
    if accel_hz:
        assert len(messages["accelerometer_data_mesgs"]) == len(run.latitudes[span])
    with fitdecode.FitReader(
        io.BytesIO(result.data), check_crc=fitdecode.CrcCheck.ENABLED
    ) as reader:
        assert sum(1 for frame in reader if isinstance(frame, fitdecode.FitDataMessage)) > 0


def test_gzipped_files_come_back_gzipped(run) -> None:  # type: ignore[no-untyped-def]
    packed = gzip.compress(to_gpx(run))
    assert sniff_activity(packed) == ("GPX", True)
    result = TrackPrivacy().apply(packed, SETTINGS)
    assert result.gzipped and gzip.decompress(result.data).startswith(b"<?xml")


def test_the_same_file_gets_the_same_cut_and_another_file_another(run) -> None:  # type: ignore[no-untyped-def]
    first = SETTINGS.areas(b"upload one")[0]
    assert SETTINGS.areas(b"upload one")[0] == first
    second = SETTINGS.areas(b"upload two")[0]
    assert (second.latitude, second.radius_m) != (first.latitude, first.radius_m)
    data = to_gpx(run)
    assert TrackPrivacy().apply(data, SETTINGS).data == TrackPrivacy().apply(data, SETTINGS).data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<?xml version='1.0'?><gpx version='1.1'><trk><trkseg><trkpt lat='x'", "GPX"),
        (b"<TrainingCenterDatabase xmlns='x'><Activities>", "TCX"),
        (b"\x0e\x10\x00\x00\xff\x00\x00\x00.FIT\x00\x00", "FIT header"),
        (b"plain text", "not a GPX, TCX or FIT"),
    ],
)
def test_a_broken_file_is_refused_with_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackPrivacy().apply(data, SETTINGS)


def test_a_damaged_fit_file_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(to_fit(run))
    data[200] ^= 0xFF
    with pytest.raises(FitError, match="CRC"):
        TrackPrivacy().apply(bytes(data), SETTINGS)


def test_the_home_finding_attack_misses_the_home_and_finds_a_fixed_circle() -> None:
    """Twenty activities from one home in all directions: the circle fit to where they
    appear and disappear lands two radii or more from home; with a fixed circle it lands
    within 50 m."""
    rng = np.random.default_rng(3)
    ends, fixed_ends = [], []
    for index in range(20):
        activity = loop(float(rng.uniform(0, 360)), leg_m=4000.0, step_m=20.0, seed=index)
        lat, lon = activity.latitudes, activity.longitudes
        hidden = hidden_mask(SETTINGS.areas(f"upload {index}".encode()), lat, lon)
        kept = np.flatnonzero(~hidden)
        ends += [(lat[kept[0]], lon[kept[0]]), (lat[kept[-1]], lon[kept[-1]])]
        away = np.array(
            [distance_m(a, b, HOME.latitude, HOME.longitude) for a, b in zip(lat, lon, strict=True)]
        )
        outside = np.flatnonzero(away > HOME.radius_m)
        fixed_ends += [(lat[outside[0]], lon[outside[0]]), (lat[outside[-1]], lon[outside[-1]])]
    assert guess_errors(fixed_ends, HOME)["circle_fit"] < 50
    assert guess_errors(ends, HOME)["circle_fit"] >= 2 * HOME.radius_m


def test_mutated_files_end_in_a_clear_error_or_a_valid_file(run) -> None:  # type: ignore[no-untyped-def]
    """Bytes flipped, cut or inserted (with the FIT CRCs made right again, so that the walker
    meets the damage): nothing but ValueError escapes, which the proxy turns into a block."""
    rng = np.random.default_rng(11)
    short = loop(10.0, leg_m=800.0, step_m=40.0)
    for original in (to_fit(short, accel_hz=25), to_gpx(short), to_tcx(short)):
        for _ in range(60):
            data = bytearray(original)
            where = int(rng.integers(len(data)))
            if rng.random() < 0.5:
                data[where] ^= int(rng.integers(1, 256))
            else:
                data = data[:where] + bytes(rng.integers(0, 256, 8).tolist()) + data[where:]
            if data[0] == 14 and data[8:12] == b".FIT":
                struct.pack_into("<I", data, 4, len(data) - 16)
                struct.pack_into("<H", data, 12, fit_crc(data[:12]))
                struct.pack_into("<H", data, len(data) - 2, fit_crc(data[:-2]))
            with contextlib.suppress(ValueError):  # anything else fails the test
                TrackPrivacy().apply(bytes(data), SETTINGS)


def _hidden(activity: Activity, original: bytes) -> np.ndarray:
    """The points track-privacy hides in ``original`` (its seed: the file's hash)."""
    areas = SETTINGS.areas(hashlib.sha256(original).digest())
    return hidden_mask(areas, activity.latitudes, activity.longitudes)


def test_gpx_says_nothing_of_the_hidden_ends(run) -> None:  # type: ignore[no-untyped-def]
    """The metadata's start was the original start, 5 minutes or more before the first kept
    point: now it is that point's time, and no time lies outside the kept points'."""
    original = to_gpx(run)
    assert gpxpy.parse(original.decode()).time == run.times[0]
    result = TrackPrivacy().apply(original, SETTINGS)
    gpx = gpxpy.parse(result.data.decode())
    times = [p.time for p in gpx.walk(only_points=True)]
    assert gpx.time == times[0] == min(times) and times[0].second == 0
    assert "time in hidden area" in result.report.fields_removed
    assert all(radius == 0 for _, radius in published_ends("GPX", result.data))


def test_tcx_says_nothing_of_the_hidden_ends(run) -> None:  # type: ignore[no-untyped-def]
    """Id and lap start at the first kept trackpoint, the lap lasts and runs as far as the
    kept trackpoints, distances count from the first."""
    result = TrackPrivacy().apply(to_tcx(run), SETTINGS)
    root = ET.fromstring(result.data)
    points = root.findall(".//t:Trackpoint", TCX)
    assert all(p.find("t:Position", TCX) is not None for p in points)
    times = [dt.datetime.fromisoformat(p.findtext("t:Time", namespaces=TCX)) for p in points]
    start = dt.datetime.fromisoformat(root.findtext(".//t:Id", namespaces=TCX))
    (lap,) = root.findall(".//t:Lap", TCX)
    assert start == dt.datetime.fromisoformat(lap.get("StartTime")) == times[0]
    kept_s = (times[-1] - times[0]).total_seconds()
    assert float(lap.findtext("t:TotalTimeSeconds", namespaces=TCX)) == pytest.approx(kept_s)
    last_distance = float(points[-1].findtext("t:DistanceMeters", namespaces=TCX))
    assert float(lap.findtext("t:DistanceMeters", namespaces=TCX)) <= last_distance + 0.1
    assert 0 < int(lap.findtext("t:Calories", namespaces=TCX)) < 300  # its share of 300
    assert all(radius == 0 for _, radius in published_ends("TCX", result.data))


def _fit_times(messages: dict) -> list[dt.datetime]:  # type: ignore[type-arg]
    return [
        value
        for found in messages.values()
        for message in found
        for name, value in message.items()
        if name in ("timestamp", "start_time", "time_created", "local_timestamp")
        and isinstance(value, dt.datetime)
    ]


def test_fit_says_nothing_of_the_hidden_ends(run) -> None:  # type: ignore[no-untyped-def]
    """No message (file_id, events, device_info, lap, session, activity) has a time outside
    the kept records', no record outside them stays, and the totals are the kept span's."""
    result = TrackPrivacy().apply(to_fit(run, accel_hz=25), SETTINGS)
    assert Decoder(Stream.from_byte_array(bytearray(result.data))).check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(result.data))).read()
    assert errors == []
    records = messages["record_mesgs"]
    assert all(r.get("position_lat") is not None and r.get("speed") for r in records)
    first, last = records[0]["timestamp"], records[-1]["timestamp"]
    assert first.second == 0 and all(first <= t <= last for t in _fit_times(messages))
    assert [e["timestamp"] for e in messages["event_mesgs"]] == [first, last]
    kept_s = (last - first).total_seconds()
    for summary in messages["lap_mesgs"] + messages["session_mesgs"]:
        assert summary["start_time"] == first and summary["timestamp"] == last
        assert summary["total_elapsed_time"] == summary["total_timer_time"] == kept_s
        assert summary["total_distance"] == pytest.approx(records[-1]["distance"])
        assert summary["avg_speed"] == pytest.approx(records[-1]["distance"] / kept_s, abs=1e-3)
    assert messages["activity_mesgs"][0]["total_timer_time"] == kept_s
    assert "time in hidden area" in result.report.fields_removed
    assert all(radius == 0 for _, radius in published_ends("FIT", result.data))
    with fitdecode.FitReader(
        io.BytesIO(result.data), check_crc=fitdecode.CrcCheck.ENABLED
    ) as reader:
        assert sum(1 for frame in reader if isinstance(frame, fitdecode.FitDataMessage)) > 0


def test_fit_records_hidden_in_the_middle_stay_without_speed(run) -> None:  # type: ignore[no-untyped-def]
    """A track that passes home halfway (the loop begun at its far end): the records inside
    stay, with their heart rate and time, but say neither where nor how fast they were."""
    half = len(run.latitudes) // 2
    lat, lon = np.roll(run.latitudes, -half), np.roll(run.longitudes, -half)
    steps = [0.0] + [distance_m(lat[i - 1], lon[i - 1], lat[i], lon[i]) for i in range(1, len(lat))]
    through = Activity(lat, lon, run.times, run.heart_rates, np.cumsum(steps))
    original = to_fit(through)
    hidden = _hidden(through, original)
    assert not hidden[0] and not hidden[-1] and hidden.any()
    result = TrackPrivacy().apply(original, SETTINGS)
    messages, errors = Decoder(Stream.from_byte_array(bytearray(result.data))).read()
    assert errors == []
    records = messages["record_mesgs"]
    assert len(records) == len(lat)
    inside = [r for r, gone in zip(records, hidden, strict=True) if gone]
    assert all(r.get("heart_rate") and r.get("timestamp") for r in inside)
    assert not any(r.get(name) for r in inside for name in ("speed", "enhanced_speed"))
    assert (
        messages["session_mesgs"][0]["total_elapsed_time"]
        == (run.times[-1] - run.times[0]).total_seconds()
    )  # nothing hidden at the ends: the totals stay
