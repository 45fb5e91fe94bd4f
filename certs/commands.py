"""``veil certs install | uninstall | status | renew`` and ``veil trust`` (an alias of
``veil certs install``), added to the `veil` parser.

``certs`` stands alone: the command tells it where the CA lives and which sites are protected
through a ``Locate`` function, so that nothing here reads the proxy's settings or store.
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

from certs.ca import ensure_ca, renew_ca
from certs.history import known_cas, trust_pending
from certs.nss import NssDatabase, nss_databases
from certs.system import DebianStore
from certs.trust import (
    INSTALL_COMMAND,
    StoreReport,
    Stores,
    install_trust,
    trust_status,
    uninstall_trust,
)

__all__ = ["Locate", "add_commands"]

# Given the parsed arguments: the CA's folder, and a function that lists the protected sites.
Locate = Callable[[argparse.Namespace], tuple[Path, Callable[[], Sequence[str]]]]


def _stores(args: argparse.Namespace) -> Stores:
    linux = platform.system() == "Linux"
    if args.nssdb:
        chosen = [Path(path).expanduser() for path in args.nssdb]
        nss = [NssDatabase(path, "NSS") for path in chosen]
        create = frozenset(chosen)  # asked for by name: made when missing, as Chromium would
    else:
        nss = nss_databases(Path.home()) if linux else []
        create = frozenset(db.path for db in nss[:1])  # Chromium's, listed first
    system = DebianStore() if linux and not args.no_system else None
    return Stores(nss, system, create, platform.system())


def _print_reports(reports: Sequence[StoreReport]) -> None:
    for report in reports:
        state = (
            report.note
            or {True: "trusted", False: "not trusted", None: "not checked"}[report.trusted]
        )
        stale = ", ".join(report.stale)
        tail = f"; replaced Veil CAs still there: {stale}" if stale else ""
        print(f"  {report.store}: {state}{tail}")
        if report.todo:
            print("    to do, run:")
            for line in report.todo:
                print(f"      {line}")


def _install(args: argparse.Namespace, locate: Locate, *, new: bool = False) -> int:
    confdir, sites = locate(args)
    ca = (renew_ca if new else ensure_ca)(confdir, sites=sites())
    if ca.replaced is not None:
        print(f"Made a new CA in place of the old one (kept as {ca.replaced}).")
    print(f"Veil's CA: {ca.common_name} (SHA-256 {ca.fingerprint_sha256})")
    _print_reports(install_trust(confdir, _stores(args)))
    if new:
        print("If `veil run` is running, restart it so that it signs with the new CA.")
    return 0


def _uninstall(args: argparse.Namespace, locate: Locate) -> int:
    confdir, _ = locate(args)
    print("Removing every Veil CA of this install from the trust stores:")
    _print_reports(uninstall_trust(confdir, _stores(args)))
    return 0


def _status(args: argparse.Namespace, locate: Locate) -> int:
    confdir, _ = locate(args)
    current, old = known_cas(confdir)
    if current is None:
        print(f"Veil has no CA yet: `veil run` or `{INSTALL_COMMAND}` makes one.")
        return 0
    print(f"Veil's CA: {current.nickname} (SHA-256 {current.fingerprint}), {current.path}")
    if not (confdir / "mitmproxy-ca.pem").exists():
        print("Its key is missing: run `veil certs renew` to make a new CA and trust it.")
    if trust_pending(confdir):
        print(f"Trust must be renewed: run `{INSTALL_COMMAND}` (no store was given this CA).")
    if old:
        print(f"Replaced CAs: {', '.join(ca.nickname for ca in old)}")
    _print_reports(trust_status(confdir, _stores(args)))
    return 0


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nssdb",
        type=Path,
        action="append",
        metavar="PATH",
        help="an NSS database folder (repeatable; default: ~/.pki/nssdb and every Firefox profile)",
    )
    parser.add_argument(
        "--no-system",
        action="store_true",
        help="leave the system store (/usr/local/share/ca-certificates) alone",
    )


def add_commands(commands: argparse._SubParsersAction, locate: Locate) -> None:
    """Add ``certs`` and ``trust`` to the `veil` command's subcommands."""
    certs = commands.add_parser("certs", help="trust Veil's CA, or stop trusting it")
    actions = certs.add_subparsers(dest="certs_command", required=True)
    handlers: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("install", "trust the CA in every store; remove the CAs it replaced",
         lambda args: _install(args, locate)),
        ("renew", "make a new CA (even when the key is lost) and trust it",
         lambda args: _install(args, locate, new=True)),
        ("uninstall", "remove every Veil CA from every store", lambda a: _uninstall(a, locate)),
        ("status", "show, per store, whether the CA is trusted", lambda a: _status(a, locate)),
    ]  # fmt: skip
    for name, help_text, handler in handlers:
        action = actions.add_parser(name, help=help_text)
        _options(action)
        action.set_defaults(handler=handler)
    trust = commands.add_parser("trust", help="the same as `veil certs install`")
    _options(trust)
    trust.set_defaults(handler=lambda args: _install(args, locate))
