"""Trusting the CA: the certutil command, the start-up instructions, a real NSS database."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from certs import ca, trust
from certs.ca import CaError, ensure_ca
from certs.trust import (
    NSS_TRUST_FLAGS,
    TrustError,
    install_nss_trust,
    nss_trust_command,
    trust_instructions,
)

needs_certutil = pytest.mark.skipif(
    shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed"
)


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> ca.CaFiles:
    return ensure_ca(tmp_path_factory.mktemp("trust") / "veil")


def test_nss_trust_command_shape(ca_files: ca.CaFiles, tmp_path: Path) -> None:
    command = nss_trust_command(ca_files.cert_pem, tmp_path / "nssdb")
    assert command == [
        "certutil",
        "-d",
        f"sql:{tmp_path / 'nssdb'}",
        "-A",
        "-t",
        "C,,",
        "-n",
        ca_files.common_name,  # unique per install, so installs do not overwrite each other
        "-i",
        str(ca_files.cert_pem),
    ]
    assert NSS_TRUST_FLAGS == "C,,"  # TLS servers only: not e-mail nor code signing


def test_nickname_can_be_given_and_der_is_read(ca_files: ca.CaFiles, tmp_path: Path) -> None:
    assert nss_trust_command(ca_files.cert_pem, tmp_path, nickname="Mine")[7] == "Mine"
    assert nss_trust_command(ca_files.cert_der, tmp_path)[7] == ca_files.common_name


def test_trust_instructions_cover_each_platform(ca_files: ca.CaFiles) -> None:
    text = trust_instructions(ca_files.cert_pem)
    assert len(text.splitlines()) <= 8
    assert ca_files.common_name in text and "veil certs install" in text
    assert "protected sites only" in text
    assert "security add-trusted-cert -d -r trustRoot" in text
    assert f'certutil -addstore -user Root "{ca_files.cert_der}"' in text  # DER for Windows
    assert str(ca_files.cert_pem) in text


@pytest.mark.parametrize("content", [b"not a certificate", None])
def test_bad_certificate_path_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CaError):
        trust_instructions(path)
    with pytest.raises(CaError):
        nss_trust_command(path, tmp_path)


def test_missing_certutil_is_a_clear_error(
    ca_files: ca.CaFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no certutil on the PATH
    with pytest.raises(TrustError) as raised:
        install_nss_trust(ca_files.cert_pem, tmp_path / "nssdb")
    message = str(raised.value)
    assert message.startswith("certutil not found") and "\n" not in message
    for package in ("libnss3-tools", "nss-tools", "pacman -S nss", "brew install nss"):
        assert package in message
    assert not (tmp_path / "nssdb").exists()


def listed_trust(nssdb: Path, nickname: str) -> str:
    """The trust flags certutil lists for ``nickname``."""
    listing = subprocess.run(
        ["certutil", "-L", "-d", f"sql:{nssdb}"], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in listing.splitlines() if line.startswith(nickname))
    return line[len(nickname) :].strip()


@needs_certutil
def test_install_creates_the_database_and_trusts_the_ca(
    ca_files: ca.CaFiles, tmp_path: Path
) -> None:
    nssdb = tmp_path / "home" / ".pki" / "nssdb"
    install_nss_trust(ca_files.cert_pem, nssdb)
    assert (nssdb / "cert9.db").exists()
    assert listed_trust(nssdb, ca_files.common_name) == "C,,"
    install_nss_trust(ca_files.cert_pem, nssdb)  # a second run is harmless
    assert listed_trust(nssdb, ca_files.common_name) == "C,,"


@needs_certutil
def test_certutil_failure_is_a_trust_error(ca_files: ca.CaFiles, tmp_path: Path) -> None:
    (tmp_path / "cert9.db").write_bytes(b"not a database")
    (tmp_path / "key4.db").write_bytes(b"not a database")
    with pytest.raises(TrustError, match="failed"):
        install_nss_trust(ca_files.cert_pem, tmp_path)


def test_public_surface_matches_all() -> None:
    own = {n for n, v in vars(trust).items() if getattr(v, "__module__", None) == trust.__name__}
    assert {n for n in own if not n.startswith("_")} <= set(trust.__all__)
    assert set(trust.__all__) <= set(vars(trust))
