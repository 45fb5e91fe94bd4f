"""motion-anonymise: the shipped anonymiser keeps its goals on held-out recordings (an
attacker retrained on anonymised data), FIT files stay valid for Garmin's SDK and fitdecode
with their accelerometer changed and their gyroscope gone, CSV and JSON uploads keep their
shape, and what cannot be rewritten is refused with a reason."""

from __future__ import annotations

import csv
import datetime as dt
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
