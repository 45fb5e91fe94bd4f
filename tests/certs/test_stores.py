"""`veil certs` against real stores: NSS databases made by certutil under tmp_path, Debian's
store in a temporary folder (with a stand-in update command), and the macOS and Windows
commands. Only Veil's own CAs, checked by fingerprint, are ever removed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certs.ca import create_ca, ensure_ca
from certs.history import VeilCa, known_cas, trust_pending
from certs.nss import NssDatabase, nss_databases
from certs.system import DebianStore
from certs.trust import Stores, install_trust, platform_reports, trust_status, uninstall_trust

pytestmark = pytest.mark.skipif(
    shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed"
)

SITES = ["*.example.social"]


def new_db(path: Path, label: str = "NSS") -> NssDatabase:
    path.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{path}", "--empty-password"], check=True)
    return NssDatabase(path, label)


def listed(db: NssDatabase) -> dict[str, str]:
    return db.nicknames()


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    ensure_ca(tmp_path / "ca", sites=SITES)
    return tmp_path / "ca"


def grow(confdir: Path) -> VeilCa:
    """Protect a new site: the CA is replaced; returns the replaced one, as kept aside."""
    assert ensure_ca(confdir, sites=[*SITES, "new.example"]).created
    return known_cas(confdir)[1][-1]


def test_discovers_chromium_and_every_firefox_profile(tmp_path: Path) -> None:
    for profile in (".mozilla/firefox/a.default", ".mozilla/firefox-esr/b.esr"):
        (tmp_path / profile).mkdir(parents=True)
        (tmp_path / profile / "cert9.db").write_bytes(b"")
    (tmp_path / ".mozilla/firefox/no-db.profile").mkdir()
    found = nss_databases(tmp_path)
    assert [db.path for db in found] == [
        tmp_path / ".pki/nssdb",
        tmp_path / ".mozilla/firefox/a.default",
        tmp_path / ".mozilla/firefox-esr/b.esr",
    ]
    assert [db.label for db in found] == ["Chromium", "Firefox profile a.default",
                                         "Firefox profile b.esr"]  # fmt: skip


def test_install_trusts_the_ca_and_creates_only_chromiums_database(
    confdir: Path, tmp_path: Path
) -> None:
    chromium = NssDatabase(tmp_path / "home/.pki/nssdb", "Chromium")
    firefox = new_db(tmp_path / "home/.mozilla/firefox/x.default", "Firefox profile x.default")
    absent = NssDatabase(tmp_path / "home/.mozilla/firefox/gone", "Firefox profile gone")
    stores = Stores([chromium, firefox, absent], create=frozenset({chromium.path}))
    reports = install_trust(confdir, stores)
    assert [(r.trusted, r.note) for r in reports] == [
        (True, ""),
        (True, ""),
        (False, "no database"),
    ]
    assert not absent.path.exists()
    current, _ = known_cas(confdir)
    assert current is not None and listed(firefox)[current.nickname] == "C,,"
    assert not trust_pending(confdir)
    assert [r.trusted for r in trust_status(confdir, stores)] == [True, True, False]
    install_trust(confdir, stores)  # a second run is harmless
    assert listed(chromium) == {current.nickname: "C,,"}


def test_install_replaces_superseded_veil_cas_and_leaves_others(
    confdir: Path, tmp_path: Path
) -> None:
    db = new_db(tmp_path / "nssdb")
    stores = Stores([db])
    install_trust(confdir, stores)
    # Someone else's CA, and one that only shares a replaced Veil CA's nickname.
    _, stranger = create_ca("Other", "Other CA")
    (tmp_path / "other.pem").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    db.add(tmp_path / "other.pem", "Other CA")
    old = grow(confdir)
    assert trust_pending(confdir)
    [before] = trust_status(confdir, stores)
    assert before.trusted is False and before.stale == [old.nickname]
    [after] = install_trust(confdir, stores)
    current, _ = known_cas(confdir)
    assert current is not None
    assert after.trusted is True and after.stale == []
    assert listed(db) == {current.nickname: "C,,", "Other CA": "C,,"}
    assert not trust_pending(confdir)


def test_a_namesake_is_not_removed(confdir: Path, tmp_path: Path) -> None:
    db = new_db(tmp_path / "nssdb")
    old = grow(confdir)
    _, namesake = create_ca("Other", "Other CA")
    (tmp_path / "namesake.pem").write_bytes(namesake.public_bytes(serialization.Encoding.PEM))
    db.add(tmp_path / "namesake.pem", old.nickname)  # same nickname, another certificate
    [report] = install_trust(confdir, Stores([db]))
    assert report.stale == [] and old.nickname in listed(db)


def test_uninstall_removes_every_veil_ca_of_this_install(confdir: Path, tmp_path: Path) -> None:
    db = new_db(tmp_path / "nssdb")
    install_trust(confdir, Stores([db]))
    old = grow(confdir)
    current, _ = known_cas(confdir)
    assert current is not None
    db.add(current.path, current.nickname)  # both there, as before a `veil certs install`
    assert set(listed(db)) == {old.nickname, current.nickname}
    [report] = uninstall_trust(confdir, Stores([db]))
    assert (report.trusted, report.stale) == (False, [])
    assert listed(db) == {}
    assert trust_pending(confdir)  # trusted nowhere now


def debian(tmp_path: Path, is_root: bool) -> tuple[DebianStore, Path]:
    """A Debian store in tmp_path whose update command records that it ran."""
    folder = tmp_path / "share" / "ca-certificates"
    folder.mkdir(parents=True)
    ran = tmp_path / "updated"
    script = tmp_path / "update-ca-certificates"
    script.write_text(f"#!/bin/sh\necho ran >> {ran}\n")
    script.chmod(0o755)
    return DebianStore(folder, (str(script),), is_root=is_root), ran


def test_debian_store_as_root_copies_removes_and_updates(confdir: Path, tmp_path: Path) -> None:
    store, ran = debian(tmp_path, is_root=True)
    [report] = install_trust(confdir, Stores([], store))
    current, _ = known_cas(confdir)
    assert current is not None
    target = store.directory / f"veil-{current.ident}.crt"
    assert report.trusted and report.todo == [] and target.read_bytes() == current.path.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o644
    old = grow(confdir)
    [stale] = trust_status(confdir, Stores([], store))
    assert stale.trusted is False and stale.stale == [old.nickname]
    install_trust(confdir, Stores([], store))
    assert not target.exists() and len(list(store.directory.iterdir())) == 1
    assert ran.read_text().count("ran") == 2
    uninstall_trust(confdir, Stores([], store))
    assert list(store.directory.iterdir()) == []


def test_debian_store_without_root_prints_the_sudo_commands(confdir: Path, tmp_path: Path) -> None:
    store, ran = debian(tmp_path, is_root=False)
    [report] = install_trust(confdir, Stores([], store))
    current, _ = known_cas(confdir)
    assert current is not None
    target = store.directory / f"veil-{current.ident}.crt"
    assert report.todo == [
        f"sudo install -D -m 0644 {current.path} {target}",
        f"sudo {store.update[0]}",
    ]
    assert not ran.exists() and not target.exists()
    assert not trust_pending(confdir)  # the user has the commands


def test_macos_and_windows_get_exact_commands(confdir: Path) -> None:
    old = grow(confdir)
    current, _ = known_cas(confdir)
    assert current is not None
    [mac] = platform_reports("Darwin", confdir, "install")
    assert mac.todo == [
        f"sudo security remove-trusted-cert -d {old.path}",
        f"sudo security delete-certificate -Z {old.sha1} /Library/Keychains/System.keychain",
        "sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "
        f"{current.path}",
    ]
    [windows] = platform_reports("Windows", confdir, "uninstall")
    assert windows.todo == [
        f"certutil -delstore -user Root {current.sha1}",
        f"certutil -delstore -user Root {old.sha1}",
    ]
    [add] = platform_reports("Windows", confdir, "install")
    assert add.todo[-1] == f'certutil -addstore -user Root "{current.path.with_suffix(".cer")}"'
    assert platform_reports("Linux", confdir, "install") == []
