"""``veil service install | uninstall | status``: start `veil run` at login, and again when it
fails.

A privacy proxy that people forget to start fails closed every morning. Linux gets a systemd
user unit, macOS a launchd agent; for Windows the command prints the Task Scheduler command to
run. Each starts the same Python with the same home as the command that installed it, so a
virtual environment and ``--home`` carry over. A clean stop (SIGTERM, exit code 0) is not a
failure; a crash or a kill -9 is, and is restarted.
"""

from __future__ import annotations

import argparse
import os
import platform
import plistlib
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LAUNCHD_LABEL",
    "UNIT_NAME",
    "LaunchdAgent",
    "ServiceError",
    "ServiceState",
    "SystemdUnit",
    "WindowsTask",
    "add_service_commands",
    "launchd_plist",
    "run_command",
    "schtasks_command",
    "systemd_unit",
]

# Where the `veil` package lies: the service runs from there, as `make run` does from a
# checkout, so that every top-level package of the tree imports, installed or not.
SOURCE_ROOT = Path(__file__).resolve().parents[1]
UNIT_NAME = "veil.service"
LAUNCHD_LABEL = "org.veil.proxy"
WINDOWS_TASK = "Veil"
# Long enough for a port left by the crashed process to be free again, short enough that
# uploads fail closed for only a moment.
RESTART_DELAY_S = 2
# Exit code 2 is a setting or a startup check that a restart would not mend (a broken
# settings.json, a missing model): restarting would only fill the log.
CONFIG_ERROR_EXIT = 2
# systemctl and launchctl answer at once; a hung one must not hang the command.
TOOL_TIMEOUT_S = 60

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class ServiceError(RuntimeError):
    """The service could not be installed, removed or asked: the message says what to do."""


@dataclass(frozen=True)
class ServiceState:
    installed: bool
    running: bool
    detail: str  # where the file lies, and what the service manager says


def run_command(home: Path | None) -> list[str]:
    """`veil run` as this very Python runs it, with an absolute home when one was chosen."""
    home_args = ["--home", str(Path(home).expanduser().resolve())] if home else []
    return [sys.executable, "-m", "veil", *home_args, "run"]


def _run_tool(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(command), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ServiceError(f"could not run {shlex.join(command)}: {error}") from error


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stderr or result.stdout).split())


def _systemd_quote(arg: str) -> str:
    """One ExecStart argument: double-quoted, with systemd's specifiers (%) and variables ($)
    kept literal."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("%", "%%").replace("$", "$$") + '"'


def systemd_unit(command: Sequence[str], workdir: Path = SOURCE_ROOT) -> str:
    """The user unit that runs ``command`` in ``workdir`` at login and restarts it when it
    fails."""
    return (
        "[Unit]\n"
        "Description=Veil, the privacy proxy for photo uploads\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(_systemd_quote(arg) for arg in command)}\n"
        f"WorkingDirectory={str(workdir).replace('%', '%%')}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Restart=on-failure\n"
        f"RestartSec={RESTART_DELAY_S}\n"
        f"RestartPreventExitStatus={CONFIG_ERROR_EXIT}\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def launchd_plist(command: Sequence[str], log_path: Path, workdir: Path = SOURCE_ROOT) -> bytes:
    """The launch agent that runs ``command`` at login and again whenever it exits non-zero."""
    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(command),
        "WorkingDirectory": str(workdir),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart after a failure, not a clean stop
        "ThrottleInterval": RESTART_DELAY_S * 5,  # launchd's floor is 10 s
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(log_path),
        "StandardErrorPath": str(log_path),
    }
    return plistlib.dumps(agent)


def schtasks_command(command: Sequence[str]) -> str:
    """The Task Scheduler command that runs ``command`` at logon (cmd.exe quoting)."""
    action = " ".join(f'\\"{arg}\\"' if " " in arg else arg for arg in command)
    return f'schtasks /Create /TN {WINDOWS_TASK} /SC ONLOGON /RL LIMITED /F /TR "{action}"'


class SystemdUnit:
    """``~/.config/systemd/user/veil.service`` (or under ``$XDG_CONFIG_HOME``)."""

    def __init__(self, run: Runner = _run_tool) -> None:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        self.path = Path(config) / "systemd" / "user" / UNIT_NAME
        self._run = run

    def _systemctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self._run(["systemctl", "--user", *args])
        if check and result.returncode != 0:
            raise ServiceError(
                f"systemctl --user {' '.join(args)} failed: {_one_line(result)}; is a systemd "
                "user session running (loginctl enable-linger $USER)?"
            )
        return result

    def install(self, command: Sequence[str]) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(systemd_unit(command))
        self._systemctl("daemon-reload")
        self._systemctl("enable", UNIT_NAME)
        # restart, not start: a unit installed over a running one takes its new command.
        self._systemctl("restart", UNIT_NAME)
        return (
            f"Installed {self.path}: Veil starts at login and restarts after a failure. "
            f"Its log: journalctl --user -u {UNIT_NAME}"
        )

    def uninstall(self) -> str:
        if not self.path.exists():
            return f"Veil's service is not installed ({self.path} does not exist)."
        self._systemctl("disable", "--now", UNIT_NAME, check=False)  # gone already is fine
        self.path.unlink()
        self._systemctl("daemon-reload")
        return f"Stopped Veil's service and removed {self.path}."

    def status(self) -> ServiceState:
        installed = self.path.exists()
        if not installed:
            return ServiceState(False, False, f"{self.path} does not exist")
        shown = self._systemctl("show", "-p", "ActiveState,SubState,MainPID", UNIT_NAME)
        values = dict(line.partition("=")[::2] for line in shown.stdout.splitlines())
        running = values.get("ActiveState") == "active"
        state = f"{values.get('ActiveState', '?')} ({values.get('SubState', '?')})"
        pid = f", pid {values['MainPID']}" if running and values.get("MainPID", "0") != "0" else ""
        return ServiceState(True, running, f"{self.path}: {state}{pid}")


class LaunchdAgent:
    """``~/Library/LaunchAgents/org.veil.proxy.plist``, loaded into the login session."""

    def __init__(self, run: Runner = _run_tool) -> None:
        self.path = Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        self.log_path = Path.home() / "Library" / "Logs" / "veil.log"
        self._domain = f"gui/{os.getuid()}"
        self._run = run

    def install(self, command: Sequence[str]) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(launchd_plist(command, self.log_path))
        self._run(["launchctl", "bootout", f"{self._domain}/{LAUNCHD_LABEL}"])  # an older one
        result = self._run(["launchctl", "bootstrap", self._domain, str(self.path)])
        if result.returncode != 0:
            raise ServiceError(f"launchctl bootstrap failed: {_one_line(result)}")
        return (
            f"Installed {self.path}: Veil starts at login and restarts after a failure. "
            f"Its log: {self.log_path}"
        )

    def uninstall(self) -> str:
        if not self.path.exists():
            return f"Veil's agent is not installed ({self.path} does not exist)."
        self._run(["launchctl", "bootout", f"{self._domain}/{LAUNCHD_LABEL}"])
        self.path.unlink()
        return f"Stopped Veil's agent and removed {self.path}."

    def status(self) -> ServiceState:
        if not self.path.exists():
            return ServiceState(False, False, f"{self.path} does not exist")
        result = self._run(["launchctl", "print", f"{self._domain}/{LAUNCHD_LABEL}"])
        fields = dict(
            (key.strip(), value.strip())
            for key, sep, value in (line.partition("=") for line in result.stdout.splitlines())
            if sep
        )
        running = result.returncode == 0 and fields.get("state") == "running"
        pid = f", pid {fields['pid']}" if running and "pid" in fields else ""
        state = fields.get("state", "not loaded") if result.returncode == 0 else "not loaded"
        return ServiceState(True, running, f"{self.path}: {state}{pid}")


class WindowsTask:
    """Prints the Task Scheduler commands: they are for the user to run."""

    def __init__(self, run: Runner = _run_tool) -> None:
        self._run = run

    def install(self, command: Sequence[str]) -> str:
        return (
            "Run this in a Command Prompt to start Veil at logon (Task Scheduler restarts it "
            "after a failure only if you add that in the task's Settings tab):\n"
            f"  {schtasks_command(command)}"
        )

    def uninstall(self) -> str:
        return f"Run this in a Command Prompt:\n  schtasks /Delete /TN {WINDOWS_TASK} /F"

    def status(self) -> ServiceState:
        result = self._run(["schtasks", "/Query", "/TN", WINDOWS_TASK, "/FO", "LIST"])
        if result.returncode != 0:
            return ServiceState(False, False, f"no task named {WINDOWS_TASK}")
        return ServiceState(True, "Running" in result.stdout, _one_line(result))


def service_for(system: str) -> SystemdUnit | LaunchdAgent | WindowsTask:
    """The service manager of ``system`` (``platform.system()``'s name)."""
    managers = {"Linux": SystemdUnit, "Darwin": LaunchdAgent, "Windows": WindowsTask}
    if system not in managers:
        raise ServiceError(f"veil service knows Linux, macOS and Windows, not {system}")
    return managers[system]()


def _install(args: argparse.Namespace) -> int:
    print(service_for(platform.system()).install(run_command(args.home)))
    return 0


def _uninstall(args: argparse.Namespace) -> int:
    print(service_for(platform.system()).uninstall())
    return 0


def _status(args: argparse.Namespace) -> int:
    state = service_for(platform.system()).status()
    if not state.installed:
        print(f"Veil's service is not installed ({state.detail}): `veil service install`.")
        return 0
    running = "running" if state.running else "installed, not running"
    print(f"Veil's service is {running}: {state.detail}")
    return 0


def add_service_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``service install | uninstall | status`` to the `veil` command's subcommands."""
    service = commands.add_parser("service", help="start Veil at login, restarted on failure")
    actions = service.add_subparsers(dest="service_command", required=True)
    for name, help_text, handler in [
        ("install", "start `veil run` (with this --home) at login, and now", _install),
        ("uninstall", "stop it and remove it from the login items", _uninstall),
        ("status", "say whether it is installed and running", _status),
    ]:
        actions.add_parser(name, help=help_text).set_defaults(handler=handler)
