"""Keeping originals through a real `veil run`: off by default (nothing kept), and when on,
the site gets the protected photo or activity file while the control API and `veil originals
get` give the original back, byte for byte, until its retention limit."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gpxpy
import pytest

from activities.formats import gzipped
from tests.activities.samples import SERIAL, loop, to_fit, to_gpx
from tests.conftest import jpeg_with_private_metadata, public_domain_photo
from tests.e2e import REPO, Upstream, serve_site, start_veil
from tests.proxy.test_activities_e2e import ZONES, _outside_the_zone

pytestmark = pytest.mark.e2e

SITE = "photos.originals-test.example"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [SITE])


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(public_domain_photo(), size=(160, 120))


def _veil(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veil", "--home", str(home), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_kept_originals_come_back_and_nothing_is_kept_by_default(
    tmp_path: Path, upstream: Upstream, photo: bytes
) -> None:
    keeping, default = tmp_path / "keeping", tmp_path / "default"
    for home, keep in ((keeping, True), (default, False)):
        settings = {"keep_originals": True} if keep else {}
        veil = start_veil(home, upstream, {SITE: ["metadata"]}, **settings)
        try:
            with veil.client() as client:
                path = f"/{home.name}"
                client.put(f"https://{SITE}{path}", content=photo).raise_for_status()
            (row,) = veil.audit(SITE, path)
            health = veil.api("GET", "/health").json()
            served = veil.api("GET", f"/audit/{row['id']}/original")
        finally:
            veil.stop()
        (sent,) = upstream.bodies(path)
        assert sent != photo and b"082021001234" not in sent  # the site got it protected
        assert row["sha256_before"] == hashlib.sha256(photo).hexdigest()
        listed = _veil(home, "originals", "list")
        assert listed.returncode == 0, listed.stderr
        assert health["keep_originals"] is keep
        if not keep:
            assert served.status_code == 404, served.text
            assert listed.stdout.startswith("0 originals kept") and "is off" in listed.stdout
            assert not (home / "originals").exists() and not (home / "originals.key").exists()
            continue
        assert (
            listed.stdout.startswith("1 originals kept") and row["sha256_before"] in listed.stdout
        )
        out = tmp_path / "back.jpg"
        got = _veil(home, "originals", "get", "--audit-id", str(row["id"]), "--output", str(out))
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == photo and out.stat().st_mode & 0o777 == 0o600
        # Destroyed with its key: the original cannot be had again, one line says why.
        assert _veil(home, "originals", "forget", "--yes").returncode == 0
        again = _veil(
            home, "originals", "get", "--sha256", row["sha256_before"], "--output", str(out)
        )
        assert again.returncode == 2 and "no original" in again.stderr
        assert len(again.stderr.strip().splitlines()) == 1


def test_activity_originals_are_kept_as_photos_are(tmp_path: Path, upstream: Upstream) -> None:
    run = loop(heading_deg=20.0, leg_m=4000.0, step_m=20.0)
    gpx, fit_gz = to_gpx(run), gzipped(to_fit(run))  # a form's GPX, a raw .fit.gz
    for keep in (True, False):
        home = tmp_path / ("keeping" if keep else "default")
        settings = {"keep_originals": True} if keep else {}
        veil = start_veil(home, upstream, {SITE: ["metadata", "track-privacy"]}, **settings)
        form, raw = f"/{home.name}/api/v3/uploads", f"/{home.name}/upload/fit"
        try:
            assert veil.api("PUT", "/zones", json=ZONES).status_code == 200
            with veil.client() as client:
                files = {"file": ("morning.gpx", io.BytesIO(gpx), "application/gpx+xml")}
                client.post(
                    f"https://{SITE}{form}", files=files, data={"data_type": "gpx"}
                ).raise_for_status()
                client.post(f"https://{SITE}{raw}", content=fit_gz).raise_for_status()
            rows = {row["path"]: row for row in veil.audit(SITE, want=2)}
            served = {
                path: veil.api("GET", f"/audit/{row['id']}/original") for path, row in rows.items()
            }
        finally:
            veil.stop()
        # The site got both protected: no serial, no point in the zone.
        (form_sent,) = upstream.bodies(form)
        start = form_sent.index(b"<?xml")
        arrived = gpxpy.parse(form_sent[start : form_sent.index(b"</gpx>") + 6].decode())
        points = [(p.latitude, p.longitude) for p in arrived.walk(only_points=True)]
        assert str(SERIAL).encode() not in form_sent and _outside_the_zone(points)
        (fit_sent,) = upstream.bodies(raw)
        assert fit_sent != fit_gz
        assert [(rows[path]["outcome"], rows[path]["format"]) for path in (form, raw)] == [
            ("protected", "GPX"),
            ("protected", "FIT"),
        ]
        assert rows[form]["sha256_before"] == hashlib.sha256(gpx).hexdigest()
        listed = _veil(home, "originals", "list")
        assert listed.returncode == 0, listed.stderr
        if not keep:
            assert [response.status_code for response in served.values()] == [404, 404]
            assert listed.stdout.startswith("0 originals kept")
            assert not (home / "originals").exists() and not (home / "originals.key").exists()
            continue
        assert listed.stdout.startswith("2 originals kept")
        for path, data, media_type, suffix in (
            (form, gpx, "application/gpx+xml", "gpx"),
            (raw, fit_gz, "application/gzip", "fit.gz"),
        ):
            response = served[path]
            assert response.status_code == 200, response.text
            assert response.content == data  # byte for byte, as it was sent
            assert response.headers["content-type"] == media_type
            assert response.headers["content-disposition"] == (
                f'attachment; filename="original-{rows[path]["id"]}.{suffix}"'
            )
        out = tmp_path / "back.fit.gz"
        got = _veil(
            home, "originals", "get", "--audit-id", str(rows[raw]["id"]), "--output", str(out)
        )
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == fit_gz
        # The same retention limit: past it, `purge` deletes them (a second, for the test).
        settings_path = home / "settings.json"
        limit = {**json.loads(settings_path.read_text()), "originals_retention_days": 1 / 86_400}
        settings_path.write_text(json.dumps(limit))
        time.sleep(1.1)
        purged = _veil(home, "originals", "purge")
        assert purged.returncode == 0 and purged.stdout.startswith("deleted 2 originals")
