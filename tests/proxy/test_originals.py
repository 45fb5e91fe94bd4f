"""Kept originals: sealed with AES-GCM, their name and time bound to the seal, private on disk,
gone at their retention limit, and the setting off unless the user turns it on."""

from __future__ import annotations

import json
import stat
import struct
from pathlib import Path

import pytest

from proxy.originals import MAGIC, OriginalsError, OriginalsVault
from proxy.settings import load_settings
from tests.conftest import jpeg_with_private_metadata, public_domain_photo

DAY = 86_400.0
NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def original() -> bytes:
    return jpeg_with_private_metadata(public_domain_photo(), size=(96, 72))


@pytest.fixture
def vault(tmp_path: Path) -> OriginalsVault:
    return OriginalsVault(tmp_path / "originals", tmp_path / "originals.key", retention_days=30)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_original_comes_back_byte_identical_and_is_never_on_disk_in_the_clear(
    vault: OriginalsVault, original: bytes
) -> None:
    sha256 = vault.keep(original, now=NOW)
    assert vault.read(sha256, now=NOW + DAY) == original
    (file,) = vault.folder.iterdir()
    sealed = file.read_bytes()
    assert sealed.startswith(MAGIC)
    # Nothing of the photo shows: not its JPEG marker, its GPS, its serial nor its caption.
    for clear in (b"\xff\xd8\xff", b"Canon", b"082021001234", b"Rue Example", original[100:132]):
        assert clear not in sealed
    assert _mode(file) == 0o600 and _mode(vault.folder) == 0o700
    assert _mode(vault.key_path) == 0o600 and len(vault.key_path.read_bytes()) == 32


def test_a_renamed_or_back_dated_file_fails_to_open(vault: OriginalsVault, original: bytes) -> None:
    first = vault.keep(original, now=NOW)
    second = vault.keep(original + b"\x00", now=NOW)
    # Renamed: passing one original off as another.
    path_first = vault.folder / f"{first}.veil-original"
    path_second = vault.folder / f"{second}.veil-original"
    path_second.write_bytes(path_first.read_bytes())
    with pytest.raises(OriginalsError, match="altered"):
        vault.read(second, now=NOW)
    # Re-dated: the time it was kept moved later, so that it outlives its limit.
    blob = bytearray(path_first.read_bytes())
    blob[len(MAGIC) : len(MAGIC) + 8] = struct.pack(">d", NOW + 20 * DAY)
    path_first.write_bytes(bytes(blob))
    with pytest.raises(OriginalsError, match="altered"):
        vault.read(first, now=NOW + 40 * DAY)


def test_another_key_opens_nothing(vault: OriginalsVault, original: bytes, tmp_path: Path) -> None:
    sha256 = vault.keep(original, now=NOW)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(32))
    with pytest.raises(OriginalsError, match="another key"):
        OriginalsVault(vault.folder, other, retention_days=30).read(sha256, now=NOW)


def test_originals_go_at_their_retention_limit(vault: OriginalsVault, original: bytes) -> None:
    old = vault.keep(original, now=NOW)
    young = vault.keep(original[::-1], now=NOW + 20 * DAY)
    (vault.folder / "stray.veil-original").write_bytes(b"not one")
    with pytest.raises(OriginalsError, match="retention limit"):
        vault.read(old, now=NOW + 31 * DAY)
    assert vault.purge(now=NOW + 31 * DAY) == 2  # the old one and the stray file
    assert [kept.sha256 for kept in vault.kept()] == [young]
    assert vault.read(young, now=NOW + 31 * DAY) == original[::-1]


def test_forget_destroys_every_original_and_the_key(vault: OriginalsVault, original: bytes) -> None:
    sha256 = vault.keep(original, now=NOW)
    assert vault.forget() == 1
    assert not vault.key_path.exists() and vault.kept() == []
    with pytest.raises(OriginalsError, match="no original"):
        vault.read(sha256, now=NOW)


def test_names_that_are_not_a_sha256_are_refused(vault: OriginalsVault) -> None:
    with pytest.raises(OriginalsError, match="not a SHA-256"):
        vault.read("../token")


def test_keeping_is_off_by_default_and_its_settings_are_checked(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.keep_originals is False and settings.originals_retention_days == 30
    for bad in (
        {"keep_originals": "yes"},
        {"originals_retention_days": 0},
        {"originals_retention_days": 1e6},
    ):
        (tmp_path / "settings.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=next(iter(bad))):
            load_settings(tmp_path)
