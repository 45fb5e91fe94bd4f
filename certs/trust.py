"""How a user comes to trust Veil's CA, and to stop trusting the CAs it replaced.

``install_trust`` puts the current CA into each store and takes the replaced ones (kept in
``superseded/``) out; ``uninstall_trust`` takes every Veil CA of this install out;
``trust_status`` says, per store, which are there. The stores are NSS databases (Chromium,
each Firefox profile: ``certs.nss``) and Debian's system store (``certs.system``); macOS and
Windows get the exact commands, printed.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from certs.errors import CaError, TrustError
from certs.history import VeilCa, known_cas, mark_pending, mark_trusted
from certs.nss import NSS_TRUST_FLAGS, NssDatabase
from certs.system import DebianStore, macos_commands, windows_commands

__all__ = [
    "DEFAULT_NSSDB",
    "INSTALL_COMMAND",
    "NSS_TRUST_FLAGS",
    "StoreReport",
    "Stores",
    "TrustError",
    "install_nss_trust",
    "install_trust",
    "nss_trust_command",
    "platform_reports",
    "trust_instructions",
    "trust_status",
    "uninstall_trust",
]

DEFAULT_NSSDB = Path.home() / ".pki" / "nssdb"
INSTALL_COMMAND = "veil certs install"


@dataclass
class StoreReport:
    """One trust store after a command.

    Attributes:
        store: what and where it is ("Chromium NSS database /home/me/.pki/nssdb").
        trusted: whether the current CA is trusted there; None where Veil cannot tell.
        stale: common names of replaced Veil CAs still there.
        todo: commands left for the user to run (with sudo, or on macOS and Windows).
        note: why nothing was done ("no database").
    """

    store: str
    trusted: bool | None
    stale: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Stores:
    """The stores a command works on.

    Attributes:
        nss: the NSS databases.
        system: Debian's system store, or None to leave it alone.
        create: the NSS databases to make when missing (Chromium's, those named).
        platform: ``platform.system()``; on "Darwin" and "Windows" the commands are printed.
    """

    nss: Sequence[NssDatabase]
    system: DebianStore | None = None
    create: frozenset[Path] = frozenset()
    platform: str = ""


def _current(confdir: Path) -> tuple[VeilCa, list[VeilCa]]:
    current, old = known_cas(confdir)
    if current is None:
        raise CaError(f"Veil has no CA in {confdir} yet: run `veil run` or `{INSTALL_COMMAND}`")
    return current, old


def _nss_report(db: NssDatabase, current: VeilCa | None, old: Sequence[VeilCa]) -> StoreReport:
    listed = db.nicknames()
    trusted = current is not None and db.trusts(current.cert, current.nickname, listed)
    stale = [ca.nickname for ca in old if db.holds(ca.cert, ca.nickname, listed)]
    return StoreReport(f"{db.label} NSS database {db.path}", trusted, stale)


def _debian_report(
    store: DebianStore, current: VeilCa | None, old: Sequence[VeilCa]
) -> StoreReport:
    trusted = current is not None and store.holds(current)
    return StoreReport(store.label, trusted, [ca.nickname for ca in old if store.holds(ca)])


def _missing(db: NssDatabase) -> StoreReport:
    return StoreReport(f"{db.label} NSS database {db.path}", False, note="no database")


def install_trust(confdir: Path, stores: Stores) -> list[StoreReport]:
    """Trust the current CA in every store and remove the CAs it replaced.

    Raises:
        CaError: there is no CA yet, or a certificate is unreadable.
        TrustError: certutil is missing or failed, or update-ca-certificates failed.
    """
    current, old = _current(confdir)
    reports = []
    for db in stores.nss:
        if not db.exists():
            if db.path not in stores.create:
                reports.append(_missing(db))
                continue
            db.create()
        listed = db.nicknames()
        for ca in old:
            if db.holds(ca.cert, ca.nickname, listed):
                db.delete(ca.nickname)
        db.add(current.path, current.nickname)
        reports.append(_nss_report(db, current, old))
    if stores.system is not None and stores.system.available():
        system = stores.system
        add = [] if system.holds(current) else [(current.path, system.path_for(current))]
        remove = [system.path_for(ca) for ca in old if system.holds(ca)]
        todo = system.apply(system.plan(add, remove))
        report = _debian_report(system, current, old)
        report.todo = todo
        reports.append(report)
    reports += platform_reports(stores.platform, confdir, "install")
    if any(report.trusted or report.todo for report in reports):
        mark_trusted(confdir)  # trusted, or the user has the commands that trust it
    return reports


def uninstall_trust(confdir: Path, stores: Stores) -> list[StoreReport]:
    """Remove every Veil CA of this install (current and replaced) from every store.

    Raises:
        CaError: a certificate is unreadable.
        TrustError: certutil is missing or failed, or update-ca-certificates failed.
    """
    current, old = known_cas(confdir)
    ours = ([current] if current is not None else []) + old
    reports = []
    for db in stores.nss:
        if not db.exists():
            reports.append(_missing(db))
            continue
        listed = db.nicknames()
        for ca in ours:
            if db.holds(ca.cert, ca.nickname, listed):
                db.delete(ca.nickname)
        reports.append(_nss_report(db, current, old))
    if stores.system is not None and stores.system.available():
        system = stores.system
        todo = system.apply(
            system.plan([], [system.path_for(ca) for ca in ours if system.holds(ca)])
        )
        report = _debian_report(system, current, old)
        report.todo = todo
        reports.append(report)
    reports += platform_reports(stores.platform, confdir, "uninstall")
    if current is not None:
        mark_pending(Path(confdir).expanduser())  # the current CA is trusted nowhere now
    return reports


def trust_status(confdir: Path, stores: Stores) -> list[StoreReport]:
    """Per store: whether the current CA is trusted, and which replaced CAs are still there.

    Raises:
        CaError: a certificate is unreadable.
        TrustError: certutil is missing or failed.
    """
    current, old = known_cas(confdir)
    reports = [_nss_report(db, current, old) if db.exists() else _missing(db) for db in stores.nss]
    if stores.system is not None and stores.system.available():
        reports.append(_debian_report(stores.system, current, old))
    return reports + platform_reports(stores.platform, confdir, "status")


def platform_reports(system: str, confdir: Path, action: str) -> list[StoreReport]:
    """For macOS ("Darwin") and Windows, whose stores Veil does not touch: the commands.

    ``action`` is "install", "uninstall" or "status".

    Raises:
        CaError: a certificate is unreadable.
    """
    current, old = known_cas(confdir)
    ours = ([current] if current is not None else []) + old
    keep = current if action == "install" else None
    remove = old if action == "install" else ours
    if system == "Darwin":
        check = f"security find-certificate -a -Z -c {shlex.quote('Veil local CA')}"
        todo = [check] if action == "status" else macos_commands(keep, remove)
        return [StoreReport("macOS System keychain", None, todo=todo)]
    if system == "Windows":
        der = keep.path.with_suffix(".cer") if keep is not None else None
        check = 'certutil -store -user Root "Veil local CA"'
        todo = [check] if action == "status" else windows_commands(der, remove)
        return [StoreReport("Windows user Root store", None, todo=todo)]
    return []


def nss_trust_command(cert_path: Path, nssdb: Path, nickname: str | None = None) -> list[str]:
    """The certutil command that trusts ``cert_path`` in the NSS database ``nssdb``.

    Raises:
        CaError: ``cert_path`` is not a readable certificate (needed for the nickname).
    """
    name = nickname or VeilCa.load(cert_path).nickname
    flags = ["-A", "-t", NSS_TRUST_FLAGS, "-n", name, "-i", str(cert_path)]
    return ["certutil", "-d", f"sql:{nssdb}", *flags]


def install_nss_trust(cert_path: Path, nssdb: Path = DEFAULT_NSSDB) -> None:
    """Trust one certificate in one NSS database, creating the database if absent.

    Raises:
        TrustError: certutil is not installed, or it failed.
        CaError: ``cert_path`` is not a readable certificate.
    """
    ca = VeilCa.load(cert_path)
    db = NssDatabase(Path(nssdb).expanduser(), "NSS")
    if not db.exists():
        db.create()
    db.add(ca.path, ca.nickname)


def trust_instructions(cert_path: Path) -> str:
    """Short, copy-pasteable ways to trust the CA, for the start-up output.

    Raises:
        CaError: ``cert_path`` is not a readable certificate.
    """
    ca = VeilCa.load(cert_path)
    der_path = ca.path.with_suffix(".cer")
    windows_path = der_path if der_path.exists() else ca.path
    return "\n".join(
        [
            f"Trust Veil's certificate authority {ca.nickname!r} ({ca.path}); it can sign for",
            "the protected sites only, and is replaced when a new site needs it:",
            f"  Linux:    {INSTALL_COMMAND}  (Chromium, each Firefox profile, the system store)",
            "  macOS:    sudo security add-trusted-cert -d -r trustRoot"
            f" -k /Library/Keychains/System.keychain {shlex.quote(str(ca.path))}",
            f'  Windows:  certutil -addstore -user Root "{windows_path}"',
        ]
    )
