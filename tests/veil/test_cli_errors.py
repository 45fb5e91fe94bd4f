"""Every error of the `veil` command, as a user meets it: the real command in a fresh process
ends with one readable line on stderr, no traceback, and a non-zero exit code."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.e2e import REPO, free_port

# Each case runs the real CLI, and `veil run` imports torch: seconds each, so slow.
pytestmark = pytest.mark.slow

# Past every check, `veil run` would load the models and serve: a test that gets there failed.
RUN_TIMEOUT_S = 120


def veil_error(*args: str, env: dict[str, str] | None = None, prefix: Sequence[str] = ()) -> str:
    """Run `python -m veil ARGS`; its one line of stderr, after checking that it failed."""
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "veil", *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"veil {' '.join(args)} did not stop with an error")
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("veil: error: ")
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose settings.json names free ports."""
    folder = tmp_path / "home"
    folder.mkdir()
    write_settings(folder, {})
    return folder


def write_settings(home: Path, settings: dict[str, object]) -> None:
    ports = {"proxy_port": free_port(), "api_port": free_port()}
    (home / "settings.json").write_text(json.dumps({**ports, **settings}))


def test_broken_settings_json(home):
    (home / "settings.json").write_text('{"proxy_port": 8350,')
    line = veil_error("--home", str(home), "run")
    assert f"{home / 'settings.json'} is not valid JSON" in line


def test_settings_json_that_is_not_text(home):
    (home / "settings.json").write_bytes(b"\xff\xfe{}")
    assert "is not UTF-8 JSON text" in veil_error("--home", str(home), "run")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"connect_overrides": ["photos.example"]}, "connect_overrides must be an object"),
        ({"listen_host": 8350}, "listen_host must be an address"),
        ({"upstream_trusted_ca": 5}, "upstream_trusted_ca must be the path of a PEM file"),
        ({"proxy_prot": 1}, "unknown settings ['proxy_prot']"),
        ({"filter_deadline_s": "soon"}, "filter_deadline_s must be a positive number"),
    ],
)
def test_settings_of_the_wrong_kind(home, settings, message):
    write_settings(home, settings)
    assert message in veil_error("--home", str(home), "run")


def test_a_port_number_out_of_range(home):
    assert "proxy_port must be a TCP port number" in veil_error(
        "--home", str(home), "run", "--proxy-port", "99999"
    )


def test_a_home_that_cannot_be_a_folder(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    line = veil_error("--home", str(a_file / "home"), "run")
    assert f"cannot use {a_file / 'home'} as Veil's home: Not a directory" in line


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder that another user can reach (pytest's tmp_path is its owner's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="veil-cli-errors-"))
    folder.chmod(0o755)
    yield folder
    for child in folder.rglob("*"):
        if child.is_dir():
            child.chmod(0o755)  # what a test made read-only, so that it can be removed
    shutil.rmtree(folder)


def _as_another_user() -> list[str]:
    """The command prefix that drops root, for whom no folder is unwritable."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("as root, needs setpriv to run as nobody")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.mark.parametrize("where", ["home", "home/inside"])
def test_an_unwritable_home(shared_folder, where):
    home = shared_folder / "home"
    home.mkdir()
    write_settings(home, {})
    home.chmod(0o555)  # readable, not writable: the lock file cannot be made
    line = veil_error("--home", str(shared_folder / where), "run", prefix=_as_another_user())
    assert f"cannot use {shared_folder / where} as Veil's home: Permission denied" in line
    assert "choose another home with --home or $VEIL_HOME" in line


def test_a_port_in_use(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = veil_error("--home", str(home), "run", "--proxy-port", str(port))
    assert f"the proxy port 127.0.0.1:{port} is in use" in line
    assert "choose another with --proxy-port" in line


def test_a_home_another_veil_holds(home):
    with open(home / "veil.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write("4242\n")
        lock.flush()
        line = veil_error("--home", str(home), "run")
    assert "another `veil run` (pid 4242) already uses the home" in line


def test_a_listen_host_that_is_not_an_address(home):
    write_settings(home, {"listen_host": "no-such-host.invalid"})
    assert "listen_host 'no-such-host.invalid' is not a known address" in veil_error(
        "--home", str(home), "run"
    )


def test_an_unreadable_upstream_ca(home, tmp_path):
    write_settings(home, {"upstream_trusted_ca": str(tmp_path / "missing.pem")})
    line = veil_error("--home", str(home), "run")
    assert f"upstream_trusted_ca {tmp_path / 'missing.pem'} cannot be read" in line


def test_trust_without_certutil_names_each_systems_package(home, tmp_path):
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    env = {"PATH": str(empty_path), "HOME": str(tmp_path)}  # no certutil; no real NSS database
    line = veil_error("--home", str(home), "trust", "--no-system", env=env)
    assert "certutil not found" in line
    for package in ("libnss3-tools", "nss-tools", "pacman -S nss", "brew install nss"):
        assert package in line


@pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("systemctl") is None, reason="systemd's systemctl"
)
def test_service_install_without_a_user_manager(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)  # no manager listens here
    env = {"XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    line = veil_error("--home", str(tmp_path / "home"), "service", "install", env=env)
    assert "systemctl --user daemon-reload failed" in line
    assert "is a systemd user session running" in line


def test_audit_of_a_home_without_one(home):
    assert "there is no audit at" in veil_error("--home", str(home), "audit", "verify")
