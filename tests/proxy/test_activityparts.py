"""Activity files and accelerometer sensor uploads (gzipped or not) found in upload bodies by
their bytes, and put back with every other byte kept; each through the policy's activity
filters (or none that applies), with its audit record; what clearly is sensor data but cannot
be read is refused."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest
from PIL import Image

from activities import TrackPrivacy, TrackSettings
from proxy.activityparts import find_activities, protect_activities, put_back
from proxy.activityrecords import activity_record
from proxy.uploads import find_images
from tests.activities.samples import HOME, loop, to_fit, to_gpx, to_tcx

BOUNDARY = "----veil"


def _form(*parts: tuple[str, str, bytes]) -> bytes:
    body = b""
    for name, filename, data in parts:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def test_activity_files_are_found_in_forms_and_raw_bodies_and_put_back() -> None:
    run = loop(10.0, leg_m=1500.0, step_m=30.0)
    gpx, tcx, fit = to_gpx(run), to_tcx(run), to_fit(run)
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    body = _form(
        ("file", "run.gpx.gz", gzip.compress(gpx)),
        ("note", "a.txt", b"hello"),
        ("fit", "r.fit", fit),
    )
    found = find_images(content_type, body)
    parts = find_activities(found)
    assert [(p.slot.index, p.slot.format, p.slot.filename) for p in parts] == [
        (0, "GPX", "run.gpx.gz"),
        (2, "FIT", "r.fit"),
    ]
    new = put_back(found, {0: b"GPX!", 2: b"FIT!"})
    assert new == _form(
        ("file", "run.gpx.gz", b"GPX!"), ("note", "a.txt", b"hello"), ("fit", "r.fit", b"FIT!")
    )
    (raw,) = find_activities(find_images("application/octet-stream", tcx))
    assert (raw.slot.location, raw.slot.format) == ("body", "TCX")
    assert find_activities(find_images("text/plain", b"<html>not one</html>")) == []


def test_the_audit_record_says_what_went_and_draws_the_track() -> None:
    run = loop(10.0, leg_m=3000.0, step_m=20.0)
    settings = TrackSettings((HOME,), b"secret")
    data = to_gpx(run)
    result = TrackPrivacy().apply(data, settings)
    record = activity_record(data, result.data, 3.0, track=result, settings=settings)
    assert record.metadata_removed[0] == (
        f"{result.report.points_hidden} of {result.report.points} positions (privacy zones)"
    )
    assert "creator" in record.metadata_removed and record.ssimulacra2 is None
    assert record.thumb_before.startswith(b"\x89PNG") and record.thumb_after != record.thumb_before


def _walk(samples: int = 300) -> np.ndarray:
    """A made-up stride at 50 Hz: gravity on z and a 2 Hz bounce, in g."""
    t = np.arange(samples) / 50
    return np.stack(
        [
            0.2 * np.sin(2 * np.pi * 2 * t),
            0.1 * np.cos(2 * np.pi * 2 * t),
            1 + 0.3 * np.sin(4 * np.pi * t),
        ],
        axis=1,
    )


def sensor_csv(samples: int = 300) -> bytes:
    rows = ["time,seconds_elapsed,x,y,z"]
    rows += [
        f"{i * 20_000_000},{i / 50:.2f},{x:.4f},{y:.4f},{z:.4f}"
        for i, (x, y, z) in enumerate(_walk(samples))
    ]
    return ("\n".join(rows) + "\n").encode()


def sensor_json(samples: int = 300) -> bytes:
    walk = _walk(samples)
    return json.dumps(
        {
            "device": "phone",
            "accelerometer": {
                "t": [20 * i for i in range(samples)],
                "x": walk[:, 0].tolist(),
                "y": walk[:, 1].tolist(),
                "z": walk[:, 2].tolist(),
            },
        }
    ).encode()


def test_sensor_uploads_are_found_by_their_bytes_only_when_motion_anonymise_is_on() -> None:
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    body = _form(
        ("accel", "Accelerometer.csv", sensor_csv()),
        ("meta", "meta.json", b'{"name": "Morning run", "points": [{"x": 1, "y": 2, "z": 3}]}'),
        ("motion", "motion.json", sensor_json()),
        ("note", "notes.txt", b"x,y,z\n1,2,3\n"),  # no .csv, no CSV type: not looked at
    )
    found = find_images(content_type, body)
    parts = find_activities(found, sensors=True)
    assert [(p.slot.index, p.slot.format) for p in parts] == [(0, "CSV"), (2, "JSON")]
    assert find_activities(found) == []
    (raw,) = find_activities(find_images("text/csv", sensor_csv()), sensors=True)
    assert (raw.slot.location, raw.slot.format) == ("body", "CSV")


def test_gzipped_sensor_uploads_are_found_by_the_bytes_inside() -> None:
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    body = _form(
        ("accel", "Accelerometer.csv.gz", gzip.compress(sensor_csv())),
        ("meta", "meta.json.gz", gzip.compress(b'{"name": "Morning run"}')),
        ("motion", "motion.json.gz", gzip.compress(sensor_json())),
        ("logs", "logs.gz", gzip.compress(sensor_csv())),  # says neither table nor gzip
    )
    parts = find_activities(find_images(content_type, body), sensors=True)
    assert [(p.slot.index, p.slot.format) for p in parts] == [(0, "CSV"), (2, "JSON")]
    packed = gzip.compress(sensor_json())
    (raw,) = find_activities(find_images("application/gzip", packed), sensors=True)
    assert (raw.slot.location, raw.slot.format, raw.data) == ("body", "JSON", packed)
    (done,) = protect_activities([parts[0]], None, motion=True)
    (unpacked,) = find_activities(find_images("text/csv", sensor_csv()), sensors=True)
    (plain,) = protect_activities([unpacked], None, motion=True)
    # The plain file's rewrite, packed again.
    assert done.data.startswith(b"\x1f\x8b") and gzip.decompress(done.data) == plain.data
    assert done.record is not None and done.record.size_before == len(parts[0].data)


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "Morning run", "type": "Run", "private": false}',
        b'{"segments": [{"x": 1.5, "y": 2.0, "z": 3.1}],'
        b' "zoom": {"x": [1, 2], "y": [3, 4], "z": [5, 6]}}',
        b'[{"x": 0.1, "y": 0.2, "z": 0.98}, {"x": 0.1, "y": 0.2, "z": 0.97}]',
        b'{"accuracy": 5, "account": {"x": [1], "y": [2], "z": [3]}}',
        b"{not json at all",
        b"[]",
    ],
)
def test_ordinary_json_api_calls_are_not_sensor_uploads(body: bytes) -> None:
    assert find_activities(find_images("application/json", body), sensors=True) == []


def test_a_fit_file_goes_through_both_filters_and_gets_one_record() -> None:
    run = loop(60.0, leg_m=400.0, step_m=10.0)
    fit, gpx = to_fit(run, accel_hz=50), to_gpx(run)
    settings = TrackSettings((HOME,), b"secret")
    body = _form(("fit", "r.fit", fit), ("gpx", "r.gpx", gpx), ("plain", "p.fit", to_fit(run)))
    parts = find_activities(find_images(f"multipart/form-data; boundary={BOUNDARY}", body), True)
    both, track_only, no_motion = protect_activities(parts, settings, motion=True)
    removed = both.record.metadata_removed if both.record else []
    assert removed[0].endswith("positions (privacy zones)") and both.data != fit
    assert any(
        line.endswith(" g)") and "accelerometer samples anonymised" in line for line in removed
    )
    picture = Image.open(io.BytesIO(both.record.thumb_after if both.record else b""))
    assert picture.size == (320, 240 + 96)  # the track, the accelerometer under it
    assert track_only.record is not None and not any(
        "accelerometer" in line for line in track_only.record.metadata_removed
    )
    assert no_motion.record is not None  # a FIT without accelerometer data: track-privacy only
    assert not any("accelerometer" in line for line in no_motion.record.metadata_removed)
    # motion-anonymise alone: a GPX file and a FIT file without motion pass as they came.
    alone = protect_activities(parts[1:], None, motion=True)
    assert [(p.data, p.record) for p in alone] == [(gpx, None), (parts[2].data, None)]


def test_a_sensor_upload_is_anonymised_and_drawn() -> None:
    (part,) = find_activities(find_images("text/csv", sensor_csv()), sensors=True)
    (done,) = protect_activities([part], None, motion=True)
    assert done.record is not None and done.data != part.data
    assert done.data.splitlines()[0] == b"time,seconds_elapsed,x,y,z"
    (removed,) = done.record.metadata_removed  # a CSV file without gyroscope columns
    assert removed.startswith("300 accelerometer samples anonymised (RMS change ")
    assert Image.open(io.BytesIO(done.record.thumb_before)).size == (320, 240)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", b"time,accX,accY,accZ\n0,0.1,0.2,oops\n20,0.1,0.2,0.9\n"),
        ("application/json", b'{"accelerometer": {"x": [1, 2], "y": [1], "z": [1, 2]}}'),
        ("text/csv", gzip.compress(sensor_csv())[:-12]),  # gzip cut short
        ("application/gzip", gzip.compress(sensor_json())[:-12]),
    ],
)
def test_accelerometer_data_that_cannot_be_rewritten_is_refused(
    content_type: str, body: bytes
) -> None:
    (part,) = find_activities(find_images(content_type, body), sensors=True)
    with pytest.raises(ValueError, match=f"cannot protect the {part.slot.format} file"):
        protect_activities([part], None, motion=True)
