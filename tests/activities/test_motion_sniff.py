"""What counts as an accelerometer stream for motion-anonymise: CSV with accelerometer
columns and a row, JSON with a stream that something names an accelerometer (CoreMotion's and
DeviceMotionEvent's fields included), gzipped or not; bare x, y, z in JSON, a header alone,
and ordinary JSON are not. Gzipped JSON that names an accelerometer but cannot be inflated
counts, so that it is refused rather than let through."""

from __future__ import annotations

import gzip
import json

import pytest

from activities.motion_sniff import sniff_sensor

LOGGER = [
    {"sensor": "Accelerometer", "time": 20 * i, "z": 0.98, "y": 0.1, "x": 0.0} for i in range(5)
]
BARE = [{"x": 0.0, "y": 0.1, "z": 0.98}] * 5
VECTOR = {"x": 0.0, "y": 0.1, "z": 0.98}
CORE_MOTION = [
    {"timestamp": 0.02 * i, "userAcceleration": VECTOR, "gravity": VECTOR} for i in range(5)
]
DEVICE_MOTION = [{"interval": 16, "accelerationIncludingGravity": VECTOR}] * 5
PHYSICS = [{"position": VECTOR, "gravity": VECTOR, "rotationRate": VECTOR}] * 5
CSV = b"time,accX,accY,accZ\n0,0.1,0.2,0.98\n"
# A CSV head, then more than 64 MiB: the head says CSV, the filter refuses the rest.
BOMB = gzip.compress(CSV + b"\n" * (65 * 2**20), compresslevel=1)


@pytest.mark.parametrize(
    ("data", "names", "expected"),
    [
        (b"time,seconds_elapsed,z,y,x\n0,0.0,0.98,0.1,0.0\n", (), "CSV"),  # Sensor Logger
        (b"\xef\xbb\xbfaccX;accY;accZ\n0,1;0,2;0,98\n", (), "CSV"),  # a BOM, semicolons
        (b"time,accX,accY,accZ\n", (), None),  # a header without a row
        (b"name,value\nx,1\n", (), None),
        (json.dumps(LOGGER).encode(), (), "JSON"),
        (
            json.dumps({"samples": [{"t": 0, "acceleration": {"x": 0, "y": 0, "z": 1}}]}).encode(),
            (),
            "JSON",
        ),
        (json.dumps(BARE).encode(), (), None),  # points? vectors? not clearly motion
        (json.dumps(BARE).encode(), ("accelerometer.json",), "JSON"),  # its name says so
        (json.dumps({"accuracy": 3, "account": BARE}).encode(), (), None),
        (b'<?xml version="1.0"?><gpx version="1.1"></gpx>', (), None),
        (b"", (), None),
        (b"[" * 100_000, (), None),  # too deep for json: not sensor data, no error
        (json.dumps(CORE_MOTION).encode(), (), "JSON"),  # CMDeviceMotion
        (json.dumps(DEVICE_MOTION).encode(), (), "JSON"),  # W3C DeviceMotionEvent
        (json.dumps(PHYSICS).encode(), (), None),  # vectors, none of them acceleration
        (gzip.compress(CSV), ("upload",), "CSV"),
        (gzip.compress(json.dumps(LOGGER).encode()), (), "JSON"),
        (gzip.compress(json.dumps(BARE).encode()), ("accelerometer.json.gz",), "JSON"),
        (gzip.compress(json.dumps(BARE).encode()), (), None),
        (gzip.compress(b'{"name": "Morning run"}'), (), None),
        (gzip.compress(CSV)[:-12], (), "CSV"),  # cut short: the filter refuses it
        (gzip.compress(json.dumps(LOGGER).encode())[:-12], (), "JSON"),  # names it: refused
        (gzip.compress(json.dumps(BARE).encode())[:-12], (), None),  # says nothing: passes
        (BOMB, (), "CSV"),
        (b"\x1f\x8bnot gzip at all", (), None),
    ],
)
def test_sniff_sensor(data: bytes, names: tuple[str, ...], expected: str | None) -> None:
    assert sniff_sensor(data, names) == expected
