"""`veil certs` and `veil trust` as a user runs them: `python -m veil` in a fresh process, with
its own home and HOME, the system store left alone (these tests may run as root). Every
error is one readable line and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e import free_port

needs_certutil = pytest.mark.skipif(
    shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed"
)


class Veil:
    """`python -m veil` with a home in tmp_path and HOME beside it."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "veil"
        self.user_home = tmp_path / "home"
        self.user_home.mkdir()
        self.env = {**os.environ, "VEIL_HOME": str(self.home), "HOME": str(self.user_home)}

    @property
    def nssdb(self) -> Path:
        return self.user_home / ".pki" / "nssdb"

    @property
    def key(self) -> Path:
        return self.home / "ca" / "mitmproxy-ca.pem"

    def __call__(self, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env if path is None else {**self.env, "PATH": path}
        argv = [sys.executable, "-m", "veil", *args]
        return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)

    def certs(
        self, action: str, *args: str, path: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self("certs", action, "--no-system", *args, path=path)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("veil: error: "), done.stderr
    return lines[0]


def test_missing_certutil_names_the_package_per_system(tmp_path: Path) -> None:
    veil = Veil(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    line = one_error_line(veil.certs("install", path=str(empty)))
    assert "certutil not found" in line
    for package in ("libnss3-tools", "nss-tools", "pacman -S nss", "brew install nss"):
        assert package in line
    assert "Traceback" not in veil("trust", "--no-system", path=str(empty)).stderr


@needs_certutil
def test_install_status_uninstall_and_the_trust_alias(tmp_path: Path) -> None:
    veil = Veil(tmp_path)
    profile = veil.user_home / ".mozilla" / "firefox-esr" / "p.default-esr"
    profile.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{profile}", "--empty-password"], check=True)
    done = veil("trust", "--no-system")  # the alias of `veil certs install`
    assert done.returncode == 0, done.stderr
    assert f"Chromium NSS database {veil.nssdb}: trusted" in done.stdout
    assert f"Firefox profile p.default-esr NSS database {profile}: trusted" in done.stdout
    status = veil.certs("status")
    assert status.returncode == 0 and "renewed" not in status.stdout
    assert status.stdout.count(": trusted") == 2
    gone = veil.certs("uninstall", "--nssdb", str(profile))
    assert gone.returncode == 0 and f"{profile}: not trusted" in gone.stdout
    status = veil.certs("status")
    assert "Trust must be renewed: run `veil certs install`" in status.stdout
    assert f"{veil.nssdb}: trusted" in status.stdout and f"{profile}: not trusted" in status.stdout


@needs_certutil
def test_status_shows_a_replaced_ca_until_install(tmp_path: Path) -> None:
    veil = Veil(tmp_path)
    assert veil.certs("install").returncode == 0
    code = (
        "import sys; from proxy.store import Store; from proxy.policies import Policy; "
        "s = Store.open(sys.argv[1]); s.put_policy(Policy('pixelfed.example')); s.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(veil.home / "veil.db")], cwd=REPO, check=True)
    done = veil.certs("install")  # the new site takes a new CA; the old one goes
    assert done.returncode == 0 and "Made a new CA in place of the old one" in done.stdout
    assert "replaced Veil CAs still there" not in done.stdout
    status = veil.certs("status")
    assert "Replaced CAs: Veil local CA" in status.stdout and ": trusted" in status.stdout


@needs_certutil
def test_a_deleted_key_is_one_line_until_renew(tmp_path: Path) -> None:
    veil = Veil(tmp_path)
    assert veil.certs("install").returncode == 0
    old = (veil.home / "ca" / "mitmproxy-ca-cert.pem").read_bytes()
    veil.key.unlink()
    line = one_error_line(veil.certs("install"))
    assert "key" in line and "is missing" in line and "veil certs renew" in line
    assert not veil.key.exists()  # never a silent new CA
    (veil.home / "settings.json").write_text(
        json.dumps({"proxy_port": free_port(), "api_port": free_port()})
    )
    line = one_error_line(veil("run"))
    assert "is missing" in line and "veil certs renew" in line
    renewed = veil.certs("renew")
    assert renewed.returncode == 0, renewed.stderr
    assert veil.key.exists() and veil.key.stat().st_mode & 0o777 == 0o600
    assert (veil.home / "ca" / "mitmproxy-ca-cert.pem").read_bytes() != old
    assert f"{veil.nssdb}: trusted" in renewed.stdout
    assert "replaced Veil CAs still there" not in renewed.stdout  # the lost CA was removed
