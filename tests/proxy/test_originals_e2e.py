"""Keeping originals through a real `veil run`: off by default (nothing kept), and when on,
the site gets the protected photo while the control API and `veil originals get` give the
original back."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import jpeg_with_private_metadata, public_domain_photo
from tests.e2e import REPO, Upstream, serve_site, start_veil

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
