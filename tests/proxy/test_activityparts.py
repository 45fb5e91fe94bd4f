"""Activity files found in upload bodies by their bytes, and put back with every other byte
kept; the audit record of a protected one."""

from __future__ import annotations

import gzip

from activities import TrackPrivacy, TrackSettings
from proxy.activityparts import activity_record, find_activities, put_back
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
    record = activity_record(data, result, settings, elapsed_ms=3.0)
    assert record.metadata_removed[0] == (
        f"{result.report.points_hidden} of {result.report.points} positions (privacy zones)"
    )
    assert "creator" in record.metadata_removed and record.ssimulacra2 is None
    assert record.thumb_before.startswith(b"\x89PNG") and record.thumb_after != record.thumb_before
