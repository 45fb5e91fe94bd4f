"""End to end: `veil service install` under a real systemd user manager starts `veil run`,
the manager restarts it after a kill -9, and `veil service uninstall` stops it.

The manager is one of the test's own (``systemd --user`` with its runtime and config folders
under tmp_path), so the user's own session is never touched. ``systemd --user`` refuses to
start on a machine that was not booted with systemd (no ``/run/systemd/system``), as in most
containers: there the test skips, unless ``VEIL_TEST_SYSTEMD_MARKER=1`` lets it create that
marker folder for its run (as root) and remove it afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import REPO, STARTUP_TIMEOUT_S, VeilProcess
from veil.startup import UNIT_NAME

pytestmark = pytest.mark.e2e

BOOTED_MARKER = Path("/run/systemd/system")
MANAGER_READY_S = 30


def _systemd() -> str | None:
    for candidate in (shutil.which("systemd"), "/usr/lib/systemd/systemd", "/lib/systemd/systemd"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _wait(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s} s")
        time.sleep(0.2)


@pytest.fixture
def booted_marker() -> Iterator[None]:
    if BOOTED_MARKER.is_dir():
        yield
        return
    if os.environ.get("VEIL_TEST_SYSTEMD_MARKER") != "1" or os.geteuid() != 0:
        pytest.skip(
            f"systemd is not this machine's init ({BOOTED_MARKER} is missing), so "
            "`systemd --user` will not start; VEIL_TEST_SYSTEMD_MARKER=1 (as root) lets the "
            "test create that folder for its run"
        )
    BOOTED_MARKER.mkdir()
    try:
        yield
    finally:
        BOOTED_MARKER.rmdir()


@pytest.fixture
def user_manager(tmp_path: Path, booted_marker: None) -> Iterator[dict[str, str]]:
    """A running ``systemd --user`` of the test's own; the environment that reaches it."""
    systemd = _systemd()
    if systemd is None or shutil.which("systemctl") is None:
        pytest.skip("needs systemd and systemctl")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # systemctl --user then uses the private socket
    log = open(tmp_path / "systemd.log", "wb")  # noqa: SIM115 (open for the manager's life)
    manager = subprocess.Popen([systemd, "--user"], env=env, stdout=log, stderr=log)

    def ready() -> bool:
        if manager.poll() is not None:
            pytest.skip(f"systemd --user exited: {(tmp_path / 'systemd.log').read_text()}")
        state = subprocess.run(
            ["systemctl", "--user", "is-system-running"], env=env, capture_output=True, text=True
        ).stdout.strip()
        return state in {"running", "degraded"}

    _wait("the user manager", ready, MANAGER_READY_S)
    yield env
    manager.terminate()  # stops its units, Veil among them
    manager.wait(60)
    log.close()


def _veil(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veil", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _unit(env: dict[str, str]) -> dict[str, str]:
    shown = subprocess.run(
        ["systemctl", "--user", "show", "-p", "ActiveState,MainPID,NRestarts", UNIT_NAME],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.partition("=")[::2] for line in shown.splitlines())


def _healthy(veil: VeilProcess) -> bool:
    token = veil.home / "token"
    if not (token.exists() and token.read_text().strip()):
        return False
    veil.token = token.read_text().strip()
    try:
        return veil.api("GET", "/health").status_code == 200
    except httpx.TransportError:
        return False


def test_the_unit_starts_veil_and_restarts_it_after_a_kill(
    tmp_path: Path, user_manager: dict[str, str]
) -> None:
    env = user_manager
    veil = VeilProcess(tmp_path / "home", {})  # settings.json with free ports; not started here
    home = ["--home", str(veil.home)]

    installed = _veil(env, *home, "service", "install")
    assert installed.returncode == 0, installed.stderr
    unit_path = Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user" / UNIT_NAME
    assert f"Installed {unit_path}" in installed.stdout
    _wait("veil run under systemd", lambda: _healthy(veil), STARTUP_TIMEOUT_S)
    first_pid = int(_unit(env)["MainPID"])
    assert first_pid > 0
    status = _veil(env, *home, "service", "status")
    assert f"Veil's service is running: {unit_path}: active (running), pid {first_pid}" in (
        status.stdout
    )

    os.kill(first_pid, signal.SIGKILL)  # a crash, as the manager sees it
    _wait(
        "a restarted veil run",
        lambda: _unit(env)["MainPID"] not in {"0", str(first_pid)} and _healthy(veil),
        STARTUP_TIMEOUT_S,
    )
    after = _unit(env)
    assert after["ActiveState"] == "active" and int(after["NRestarts"]) >= 1
    second_pid = int(after["MainPID"])

    removed = _veil(env, *home, "service", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not unit_path.exists()
    _wait("veil run stopped", lambda: not Path(f"/proc/{second_pid}").exists(), 10)
    assert "not installed" in _veil(env, *home, "service", "status").stdout
