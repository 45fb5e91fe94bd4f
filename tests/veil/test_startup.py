"""`veil service`: the systemd unit (checked by systemd-analyze), the launchd agent (read back
by plistlib), the Task Scheduler command, and what install, uninstall and status ask of
systemctl and launchctl (through a recording runner)."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from veil.startup import (
    LAUNCHD_LABEL,
    UNIT_NAME,
    LaunchdAgent,
    ServiceError,
    SystemdUnit,
    launchd_plist,
    run_command,
    schtasks_command,
    systemd_unit,
)

ODD_HOME = Path('/tmp/a home/with 100% $HOME and "quotes"')


class Recorder:
    """A systemctl/launchctl stand-in: records each command, answers from ``answers``."""

    def __init__(self, answers: dict[str, tuple[int, str]] | None = None) -> None:
        self.commands: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        code, out = next(
            (answer for key, answer in self.answers.items() if key in " ".join(command)), (0, "")
        )
        return subprocess.CompletedProcess(list(command), code, out, "failed" if code else "")


def test_run_command_is_this_python_with_an_absolute_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_command(None) == [sys.executable, "-m", "veil", "run"]
    assert run_command(Path("rel")) == [
        sys.executable, "-m", "veil", "--home", str(tmp_path / "rel"), "run"
    ]  # fmt: skip


def test_systemd_unit_restarts_on_failure_and_quotes_every_argument():
    unit = systemd_unit(run_command(ODD_HOME))
    assert "Restart=on-failure" in unit and "WantedBy=default.target" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert exec_start == (
        f'ExecStart="{sys.executable}" "-m" "veil" "--home" '
        '"/tmp/a home/with 100%% $$HOME and \\"quotes\\"" "run"'
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    path = tmp_path / UNIT_NAME
    path.write_text(systemd_unit(run_command(ODD_HOME)))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)  # verify starts a manager of its own, which needs one
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stdout + done.stderr, done.stdout + done.stderr
    # ...and it would say so: the same unit with a relative program fails verification.
    path.write_text(systemd_unit(["bin/python3", "-m", "veil", "run"]))
    bad = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(path)], env=env, capture_output=True, text=True
    )
    assert bad.returncode != 0


def test_launchd_plist_reads_back_with_keepalive_on_failure(tmp_path):
    command = run_command(ODD_HOME)
    agent = plistlib.loads(launchd_plist(command, tmp_path / "veil.log"))
    assert agent["Label"] == LAUNCHD_LABEL
    assert agent["ProgramArguments"] == command
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardErrorPath"] == str(tmp_path / "veil.log")


def test_schtasks_command_runs_at_logon():
    command = schtasks_command([r"C:\Program Files\Python\python.exe", "-m", "veil", "run"])
    assert command.startswith("schtasks /Create /TN Veil /SC ONLOGON ")
    assert command.endswith('/TR "\\"C:\\Program Files\\Python\\python.exe\\" -m veil run"')


def test_systemd_install_status_uninstall(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = Recorder({"show": (0, "ActiveState=active\nSubState=running\nMainPID=4242\n")})
    unit = SystemdUnit(run=runner)
    assert unit.path == tmp_path / "config" / "systemd" / "user" / UNIT_NAME
    assert not unit.status().installed

    message = unit.install(run_command(tmp_path / "home"))
    assert str(unit.path) in message and unit.path.read_text().startswith("[Unit]")
    assert runner.commands == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", UNIT_NAME],
        ["systemctl", "--user", "restart", UNIT_NAME],
    ]
    state = unit.status()
    assert state.installed and state.running and "pid 4242" in state.detail

    runner.commands.clear()
    unit.uninstall()
    assert not unit.path.exists()
    assert runner.commands == [
        ["systemctl", "--user", "disable", "--now", UNIT_NAME],
        ["systemctl", "--user", "daemon-reload"],
    ]


def test_systemd_without_a_user_manager_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    unit = SystemdUnit(run=Recorder({"daemon-reload": (1, "")}))
    with pytest.raises(ServiceError, match="is a systemd user session running"):
        unit.install(run_command(None))


def test_launchd_install_status_uninstall(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    runner = Recorder({"print": (0, "\tstate = running\n\tpid = 77\n")})
    agent = LaunchdAgent(run=runner)
    agent.install(run_command(None))
    assert plistlib.loads(agent.path.read_bytes())["Label"] == LAUNCHD_LABEL
    domain = f"gui/{os.getuid()}"
    assert runner.commands == [
        ["launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"],
        ["launchctl", "bootstrap", domain, str(agent.path)],
    ]
    state = agent.status()
    assert state.running and "pid 77" in state.detail
    agent.uninstall()
    assert not agent.path.exists() and not agent.status().installed
