"""``veil originals list | get | purge | forget``: the originals Veil kept (with
``keep_originals`` on), given back decrypted, deleted at their limit, or all destroyed."""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import sys
from pathlib import Path

__all__ = ["add_originals_commands"]


def add_originals_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``originals list|get|purge|forget`` to the `veil` command's subcommands."""
    originals = commands.add_parser(
        "originals", help="the originals Veil kept (when keep_originals is on)"
    )
    actions = originals.add_subparsers(dest="originals_command", required=True)
    actions.add_parser("list", help="every kept original: SHA-256, when, size").set_defaults(
        handler=_list
    )
    get = actions.add_parser("get", help="write one original, decrypted, to a file")
    which = get.add_mutually_exclusive_group(required=True)
    which.add_argument("--sha256", help="the original's SHA-256, as `list` shows it")
    which.add_argument("--audit-id", type=int, help="the audit row of its protected upload")
    get.add_argument("--output", type=Path, required=True, help="file to write (0600)")
    get.set_defaults(handler=_get)
    actions.add_parser(
        "purge", help="delete the originals past their retention limit now"
    ).set_defaults(handler=_purge)
    forget = actions.add_parser(
        "forget", help="delete every kept original and its key: none can be opened again"
    )
    forget.add_argument("--yes", action="store_true", help="no question asked")
    forget.set_defaults(handler=_forget)


def _vault(home: Path | None):  # type: ignore[no-untyped-def]
    from proxy.originals import OriginalsVault
    from proxy.settings import load_settings

    settings = load_settings(home)
    vault = OriginalsVault(
        settings.originals_dir, settings.originals_key_path, settings.originals_retention_days
    )
    return settings, vault


def _list(args: argparse.Namespace) -> int:
    settings, vault = _vault(args.home)
    kept = vault.kept()
    state = "on" if settings.keep_originals else "off"
    print(
        f"{len(kept)} originals kept in {settings.originals_dir} (keep_originals is {state}; "
        f"each is deleted {settings.originals_retention_days:g} days after it was kept)"
    )
    for original in kept:
        when = datetime.datetime.fromtimestamp(original.kept_at).isoformat(timespec="seconds")
        print(f"{original.sha256}  {when}  {original.size} bytes")
    return 0


def _audit_sha256(db_path: Path, audit_id: int) -> str:
    from proxy.originals import OriginalsError

    if not db_path.exists():
        raise OriginalsError(f"there is no audit at {db_path}")
    db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT sha256_before FROM audit WHERE id = ?", (audit_id,)).fetchone()
    finally:
        db.close()
    if row is None:
        raise OriginalsError(f"there is no audit row {audit_id}")
    if not row[0]:
        raise OriginalsError(f"audit row {audit_id} names no original (it was not measured)")
    return str(row[0])


def _get(args: argparse.Namespace) -> int:
    settings, vault = _vault(args.home)
    sha256 = args.sha256 or _audit_sha256(settings.db_path, args.audit_id)
    data = vault.read(sha256.lower())
    # The original holds what Veil removed (GPS, faces, the way home): its owner's alone.
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    print(f"wrote the original {sha256[:12]}… ({len(data)} bytes) to {args.output}")
    return 0


def _purge(args: argparse.Namespace) -> int:
    settings, vault = _vault(args.home)
    removed = vault.purge()
    print(f"deleted {removed} originals past {settings.originals_retention_days:g} days")
    return 0


def _forget(args: argparse.Namespace) -> int:
    settings, vault = _vault(args.home)
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "veil: error: `originals forget` destroys every kept original: add --yes",
                file=sys.stderr,
            )
            return 2
        answer = input(f"Delete every original in {settings.originals_dir} and its key? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print("nothing deleted")
            return 1
    removed = vault.forget()
    print(f"deleted {removed} originals and the key {settings.originals_key_path}")
    return 0
