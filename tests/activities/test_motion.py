"""motion-anonymise: the shipped anonymiser keeps its goals on held-out recordings (an
attacker retrained on anonymised data), FIT files stay valid for Garmin's SDK and fitdecode
with their accelerometer changed and their gyroscope gone, CSV and JSON uploads keep their
shape (gzipped ones come back gzipped; CoreMotion and DeviceMotionEvent recordings keep each
field's meaning), and what cannot be rewritten is refused with a reason."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json

import fitdecode
import numpy as np
import pytest
import torch
from garmin_fit_sdk import Decoder, Stream

from activities import ACTIVITY_FILTERS
from activities.hapt import ACTIVITIES, HAPT_HZ
from activities.motion import MotionAnonymise, MotionSettings
from activities.motion_common import STANDARD_GRAVITY
from activities.motion_eval import (
    Split,
    anonymise,
    identification,
    load_split,
    macro_f1,
    predict,
)
from activities.motion_model import WINDOW, load_models
from tests.activities.samples import loop, to_fit
from tests.activities.test_motion_sniff import BOMB

# The first recordings of these people trained the networks; their second ones did not.
PEOPLE = 6
COUNTS_PER_G = 1000
LEVEL_SHIFT = 2048


@pytest.fixture(scope="module")
def hapt() -> tuple[Split, Split]:
    torch.set_num_threads(min(2, torch.get_num_threads()))
    return load_split(PEOPLE)


@pytest.fixture(scope="module")
def walking(hapt: tuple[Split, Split]) -> np.ndarray:
    """20 s of one person walking, from a recording the networks never saw, ``(N, 3)`` g."""
    _, test = hapt
    rows = torch.nonzero((test.activity == 0) & (test.person == 0)).ravel()[:8]
    return test.signal[rows].transpose(1, 2).reshape(-1, 3).double().numpy()


def test_is_registered() -> None:
    assert ACTIVITY_FILTERS["motion-anonymise"] is MotionAnonymise
    assert "activity" in MotionAnonymise.description.lower() or MotionAnonymise.description


def test_keeps_the_activity_and_hides_the_person_on_held_out_recordings(
    hapt: tuple[Split, Split],
) -> None:
    train, test = hapt
    anonymiser, activity = load_models()
    hidden_train = Split(anonymise(anonymiser, train.signal), train.activity, train.person)
    hidden_test = Split(anonymise(anonymiser, test.signal), test.activity, test.person)
    # The app's recogniser, trained on raw data, still sees the activity.
    f1 = macro_f1(test.activity, predict(activity, hidden_test.signal), len(ACTIVITIES))
    assert f1 >= 0.80
    # An attacker retrained on anonymised windows does little better than chance, where
    # the same attacker on raw windows does much better.
    chance = 1 / PEOPLE
    raw = identification(train, test, epochs=6).window
    adaptive = identification(hidden_train, hidden_test, epochs=6).window
    assert adaptive <= 2 * chance < raw


def _fit_with_motion(signal_g: np.ndarray) -> bytes:
    """A FIT file as a watch writes motion: a calibration for its accelerometer, raw counts
    25 at a time at 50 Hz, and gyroscope samples."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.accelerometer_data_message import AccelerometerDataMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.gyroscope_data_message import GyroscopeDataMessage
    from fit_tool.profile.messages.three_d_sensor_calibration_message import (
        ThreeDSensorCalibrationMessage,
    )
    from fit_tool.profile.profile_type import FileType, Manufacturer, SensorType

    start = round(dt.datetime(2026, 6, 1, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.GARMIN.value
    file_id.time_created = start
    builder.add(file_id)
    calibration = ThreeDSensorCalibrationMessage()
    calibration.timestamp = start
    calibration.sensor_type = SensorType.ACCELEROMETER
    calibration.calibration_factor = 1
    calibration.calibration_divisor = COUNTS_PER_G
    calibration.level_shift = LEVEL_SHIFT
    calibration.offset_cal = [0, 0, 0]
    calibration.orientation_matrix = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    builder.add(calibration)
    counts = np.round(signal_g * COUNTS_PER_G + LEVEL_SHIFT).astype(int)
    for batch in range(-(-len(counts) // 25)):  # a last, shorter message takes the rest
        part = counts[batch * 25 : (batch + 1) * 25]
        for kind, prefix in ((AccelerometerDataMessage, "accel"), (GyroscopeDataMessage, "gyro")):
            message = kind()
            message.timestamp = start + batch * 500
            message.timestamp_ms = (batch * 500) % 1000
            message.sample_time_offset = list(range(0, 20 * len(part), 20))
            for axis, values in zip("xyz", part.T, strict=True):
                setattr(message, f"{prefix}_{axis}", [int(v) for v in values])
            builder.add(message)
    return builder.build().to_bytes()


def _sdk_read(data: bytes) -> dict:
    assert Decoder(Stream.from_byte_array(bytearray(data))).check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    assert errors == []
    return messages


def _accel_counts(messages: dict) -> np.ndarray:
    return np.concatenate(
        [
            np.stack([m[f"accel_{axis}"] for axis in "xyz"], axis=1)
            for m in messages["accelerometer_data_mesgs"]
        ]
    )


def test_fit_stays_valid_with_its_accelerometer_changed_and_its_gyroscope_gone(
    walking: np.ndarray,
) -> None:
    original = _fit_with_motion(walking)
    result = MotionAnonymise().apply(original)
    assert len(result.data) == len(original) and result.data != original
    before, after = _sdk_read(original), _sdk_read(result.data)
    counts_before, counts_after = _accel_counts(before), _accel_counts(after)
    assert counts_after.shape == counts_before.shape == (len(walking), 3)
    assert (counts_after != counts_before).mean() > 0.9
    assert all(m.get("gyro_x") is None for m in after["gyroscope_data_mesgs"])
    assert "gyroscope" in result.report.fields_removed and result.report.rate_hz == 50
    # fitdecode reads it too, CRC checked.
    with fitdecode.FitReader(io.BytesIO(result.data), check_crc=fitdecode.CrcCheck.ENABLED) as fit:
        assert sum(isinstance(frame, fitdecode.FitDataMessage) for frame in fit) > 0
    # Through the file's calibration, the app's recogniser still sees someone walking.
    _, activity = load_models()
    signal_g = (counts_after - LEVEL_SHIFT) / COUNTS_PER_G
    usable = len(signal_g) // WINDOW * WINDOW
    windows = torch.from_numpy(signal_g[:usable].astype(np.float32))
    windows = windows.reshape(-1, WINDOW, 3).transpose(1, 2)
    guesses = predict(activity, windows)
    assert (guesses <= ACTIVITIES.index("downstairs")).float().mean() >= 0.75


def test_fit_from_an_activity_without_calibration_keeps_its_records() -> None:
    original = to_fit(loop(heading_deg=30.0, leg_m=300.0, step_m=10.0), accel_hz=50)
    result = MotionAnonymise().apply(original)
    before, after = _sdk_read(original), _sdk_read(result.data)
    assert (_accel_counts(after) != _accel_counts(before)).any()
    assert [m["heart_rate"] for m in after["record_mesgs"]] == [
        m["heart_rate"] for m in before["record_mesgs"]
    ]
    assert result.report.samples == len(_accel_counts(before))


def _csv(signal_g: np.ndarray, rate_hz: float) -> str:
    rows = ["time,accX (m/s^2),accY (m/s^2),accZ (m/s^2),gyroX,label"]
    rows += [
        f"{i / rate_hz:.3f},{x * 9.80665:.4f},{y * 9.80665:.4f},{z * 9.80665:.4f},0.01,walk"
        for i, (x, y, z) in enumerate(signal_g)
    ]
    return "\n".join(rows) + "\n"


def test_csv_keeps_its_shape_and_other_columns(walking: np.ndarray) -> None:
    original = _csv(walking, HAPT_HZ)
    result = MotionAnonymise().apply(original.encode())
    before = list(csv.reader(io.StringIO(original)))
    after = list(csv.reader(io.StringIO(result.data.decode())))
    assert len(after) == len(before) and after[0] == before[0]
    assert [row[0] for row in after] == [row[0] for row in before]  # time
    assert {row[5] for row in after[1:]} == {"walk"} and {row[4] for row in after[1:]} == {""}
    values = np.array([[float(v) for v in row[1:4]] for row in after[1:]])
    assert not np.allclose(values, np.array([[float(v) for v in r[1:4]] for r in before[1:]]))
    assert all(len(row[1].split(".")[1]) == 4 for row in after[1:])  # written as it came
    report = result.report
    assert report.units == "m/s²" and report.rate_known and abs(report.rate_hz - 50) < 1e-6
    # In m/s² as it came: gravity's magnitude stays near 9.8, not 1.
    assert 5 < np.median(np.linalg.norm(values, axis=1)) < 15


def test_csv_at_another_rate_is_resampled_and_keeps_its_length(walking: np.ndarray) -> None:
    at_100 = np.stack(
        [np.interp(np.arange(2 * len(walking)) / 2, np.arange(len(walking)), a) for a in walking.T],
        axis=1,
    )
    result = MotionAnonymise().apply(_csv(at_100, 100).encode())
    assert abs(result.report.rate_hz - 100) < 1e-6 and result.report.samples == len(at_100)
    assert result.data.decode().count("\n") == len(at_100) + 1


def test_json_records_and_columns(walking: np.ndarray) -> None:
    records = {
        "device": "phone",
        "samples": [
            {"t": 20 * i, "accelerationIncludingGravity": {"x": x, "y": y, "z": z}}
            for i, (x, y, z) in enumerate(walking.tolist())
        ],
    }
    result = MotionAnonymise().apply(json.dumps(records).encode())
    out = json.loads(result.data)
    assert out["device"] == "phone" and len(out["samples"]) == len(walking)
    assert [s["t"] for s in out["samples"]] == [s["t"] for s in records["samples"]]
    assert (
        out["samples"][5]["accelerationIncludingGravity"]
        != records["samples"][5]["accelerationIncludingGravity"]
    )
    assert result.report.rate_known and result.report.units == "g"
    columns = {"acc_x": walking[:, 0].tolist(), "acc_y": walking[:, 1].tolist()}
    columns["acc_z"] = walking[:, 2].tolist()
    out = json.loads(MotionAnonymise().apply(json.dumps(columns).encode()).data)
    assert sorted(out) == ["acc_x", "acc_y", "acc_z"] and len(out["acc_x"]) == len(walking)
    assert out["acc_x"] != columns["acc_x"]


def test_gzipped_csv_comes_back_gzipped(walking: np.ndarray) -> None:
    original = _csv(walking, HAPT_HZ)
    result = MotionAnonymise().apply(gzip.compress(original.encode()))
    assert result.gzipped and result.data.startswith(b"\x1f\x8b")
    plain = MotionAnonymise().apply(original.encode())
    # The same rewrite as the plain file's, packed again.
    assert gzip.decompress(result.data) == plain.data and result.report == plain.report
    # Two members (as `cat a.gz b.gz` makes), zero padding after: read whole, as gzip reads it.
    cut = original.index("\n", len(original) // 2) + 1
    members = gzip.compress(original[:cut].encode()) + gzip.compress(original[cut:].encode())
    both = MotionAnonymise().apply(members + bytes(8))
    assert gzip.decompress(both.data) == plain.data


def _paths(node: object, prefix: str = "") -> list[str]:
    """Every key path in ``node``, list items by their position: its structure."""
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _paths(value, f"{prefix}/{key}")]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _paths(value, f"{prefix}/{i}")]
    return [prefix]


def _xyz(sample: dict, key: str) -> np.ndarray:
    return np.array([sample[key][axis] for axis in "xyz"], dtype=float)


def test_core_motion_keeps_each_field_and_loses_its_gyroscope(walking: np.ndarray) -> None:
    """CMDeviceMotion: userAcceleration and gravity in g, their sum the acceleration."""
    gravity = walking.mean(axis=0) / np.linalg.norm(walking.mean(axis=0))
    samples = [
        {
            "timestamp": 3600.0 + i / HAPT_HZ,
            "userAcceleration": dict(zip("xyz", (total - gravity).tolist(), strict=True)),
            "gravity": dict(zip("xyz", gravity.tolist(), strict=True)),
            "rotationRate": {"x": 0.1, "y": -0.2, "z": 0.3},
            "attitude": {"roll": 0.1, "pitch": 0.2, "yaw": 0.3},
            "magneticField": {"accuracy": 2},
        }
        for i, total in enumerate(walking)
    ]
    result = MotionAnonymise().apply(json.dumps({"motion": samples}).encode())
    out = json.loads(result.data)["motion"]
    assert _paths(out) == _paths(samples)
    assert [s["timestamp"] for s in out] == [s["timestamp"] for s in samples]
    assert [s["magneticField"] for s in out] == [s["magneticField"] for s in samples]
    assert all(
        set(s["rotationRate"].values()) == set(s["attitude"].values()) == {None} for s in out
    )
    totals = np.array([_xyz(s, "userAcceleration") + _xyz(s, "gravity") for s in out])
    users = np.array([_xyz(s, "userAcceleration") for s in out])
    assert np.abs(totals - walking).mean() > 0.02 and not np.allclose(users, walking - gravity)
    # Still g: gravity of length 1, the total near it as a walk's is.
    gravities = np.array([_xyz(s, "gravity") for s in out])
    assert np.allclose(np.linalg.norm(gravities, axis=1), 1, atol=1e-6)
    assert 0.7 < np.median(np.linalg.norm(totals, axis=1)) < 1.3
    report = result.report
    assert (report.units, report.fields_removed) == ("g", ["gyroscope"])
    assert report.samples == len(walking)
    assert report.rate_known and abs(report.rate_hz - HAPT_HZ) < 1e-3
    # CMAccelerometerData: the acceleration itself, in g.
    raw = [
        {"timestamp": i / HAPT_HZ, "acceleration": dict(zip("xyz", total, strict=True))}
        for i, total in enumerate(walking.tolist())
    ]
    out = json.loads(MotionAnonymise().apply(json.dumps(raw).encode()).data)
    assert _paths(out) == _paths(raw) and out[9]["acceleration"] != raw[9]["acceleration"]


def test_device_motion_events_keep_each_field_and_lose_their_gyroscope(
    walking: np.ndarray,
) -> None:
    """W3C DeviceMotionEvent: m/s², acceleration without gravity where the device has it,
    rotationRate in alpha, beta, gamma, interval in ms."""
    events = [
        {
            "accelerationIncludingGravity": dict(
                zip("xyz", (total * STANDARD_GRAVITY).tolist(), strict=True)
            ),
            # The first events of a page often come before the gyroscope's: null.
            "acceleration": None if i < 3 else {"x": 0.1, "y": 0.2, "z": -0.3},
            "rotationRate": {"alpha": 10.0, "beta": -5.0, "gamma": 2.5},
            "interval": 1000 / HAPT_HZ,
        }
        for i, total in enumerate(walking)
    ]
    result = MotionAnonymise().apply(json.dumps(events).encode())
    out = json.loads(result.data)
    assert _paths(out[3:]) == _paths(events[3:])
    assert [e["acceleration"] for e in out[:3]] == [None] * 3
    assert all(set(e["rotationRate"].values()) == {None} for e in out)
    assert [e["interval"] for e in out] == [e["interval"] for e in events]
    totals = np.array([_xyz(e, "accelerationIncludingGravity") for e in out])
    assert np.abs(totals / STANDARD_GRAVITY - walking).mean() > 0.02
    # acceleration = the total less a gravity of 9.8 m/s²: still m/s², still its meaning.
    gravities = totals[3:] - np.array([_xyz(e, "acceleration") for e in out[3:]])
    assert np.allclose(np.linalg.norm(gravities, axis=1), STANDARD_GRAVITY, atol=1e-5)
    report = result.report
    assert (report.units, report.fields_removed) == ("m/s²", ["gyroscope"])
    assert report.rate_known and abs(report.rate_hz - HAPT_HZ) < 1e-6


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"name,value\nx,1\n", "without accelerometer columns"),
        (b"x,y,z\n1,2,oops\n", "not a number"),
        (b'{"x": [1, 2], "y": [1], "z": [1, 2]}', "differ in length"),
        (b'{"steps": 3}', "without accelerometer values"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00garbage", "not a FIT file, nor CSV or JSON"),
        (b'<?xml version="1.0"?><gpx version="1.1"></gpx>', "holds no accelerometer data"),
        (gzip.compress(b"x,y,z\n0.1,0.2,0.98\n" * 50)[:-12], "gzip file cut short"),
        (gzip.compress(b"x,y,z\n0.1,0.2,0.98\n") + b"junk", "followed by other bytes"),
        (BOMB, "inflates past 64 MiB"),
        (b'[{"userAcceleration": {"x": 0, "y": 0, "z": 0.1}}]', "without gravity"),
        (b'[{"accelerationIncludingGravity": {"x": 0, "y": 0, "z": null}}]', "value is not"),
    ],
)
def test_malformed_uploads_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        MotionAnonymise().apply(data)


def test_fit_with_messages_of_two_lengths(walking: np.ndarray) -> None:
    original = _fit_with_motion(walking[:510])  # 20 messages of 25 samples, one of 10
    result = MotionAnonymise().apply(original)
    before, after = _sdk_read(original), _sdk_read(result.data)
    assert len(_accel_counts(after)) == 510 and result.report.samples == 510
    assert (_accel_counts(after) != _accel_counts(before)).mean() > 0.9


def test_a_damaged_fit_is_refused(walking: np.ndarray) -> None:
    original = bytearray(_fit_with_motion(walking[:500]))
    original[200] ^= 0xFF
    with pytest.raises(ValueError, match="CRC"):
        MotionAnonymise().apply(bytes(original))
    with pytest.raises(ValueError, match="rate_hz"):
        MotionSettings(rate_hz=0)
