"""proxy/home.py: one `veil run` per home, a home only its owner can read, ports checked
before Veil says it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.home import HomeInUse, HomeLock, make_private
from tests.e2e import REPO, free_port


def veil_run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VEIL_HOME": str(home)}
    command = [sys.executable, "-m", "veil", "run", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_a_home_holds_one_veil_and_is_free_again_once_released(tmp_path: Path) -> None:
    first = HomeLock(tmp_path).acquire()
    with pytest.raises(HomeInUse, match=f"pid {os.getpid()}"):
        HomeLock(tmp_path).acquire()
    first.release()
    HomeLock(tmp_path).acquire().release()
    assert (tmp_path / "veil.lock").stat().st_mode & 0o777 == 0o600


def test_every_file_in_the_home_becomes_its_owners_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "ca").mkdir(parents=True)
    os.chmod(home, 0o755)
    os.chmod(home / "ca", 0o755)
    for name in ("veil.db", "veil.db-wal", "veil.db-shm", "settings.json", "ca/mitmproxy-ca.pem"):
        (home / name).write_text("x")
        os.chmod(home / name, 0o644)
    public = home / "ca" / "mitmproxy-ca-cert.pem"
    public.write_text("certificate")
    os.chmod(public, 0o644)
    changed = make_private(home)
    assert len(changed) == 7
    for path in [home, home / "ca"]:
        assert path.stat().st_mode & 0o777 == 0o700
    for name in ("veil.db", "veil.db-wal", "veil.db-shm", "settings.json", "ca/mitmproxy-ca.pem"):
        assert (home / name).stat().st_mode & 0o777 == 0o600, name
    assert public.stat().st_mode & 0o777 == 0o644  # the certificate users trust stays public
    assert make_private(home) == []


def test_a_second_veil_run_on_a_held_home_says_so_in_one_line(tmp_path: Path) -> None:
    lock = HomeLock(tmp_path).acquire()  # as a running `veil run` holds it
    try:
        result = veil_run(tmp_path, "--proxy-port", str(free_port()))
    finally:
        lock.release()
    assert result.returncode != 0
    assert "already uses the home" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Veil is running" not in result.stdout


def test_a_taken_port_is_an_error_before_veil_says_it_runs(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = veil_run(tmp_path, "--proxy-port", str(port), "--api-port", str(free_port()))
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is in use" in result.stderr and "--proxy-port" in result.stderr
    assert "Traceback" not in result.stderr and "Veil is running" not in result.stdout
