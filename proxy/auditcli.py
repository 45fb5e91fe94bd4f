"""``veil audit verify`` and ``veil audit export``: the audit's hash chain checked, its rows
written out. Both only read the database, with or without a `veil run` beside them; rows
still in the spool (written while another program locked the file) are not in it yet."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sqlite3
import sys
from pathlib import Path

__all__ = ["add_audit_commands", "export_rows"]

# The first version whose rows carry a chain (proxy.store.SCHEMA_VERSION at the time).
CHAINED_SINCE = 5


def add_audit_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``audit verify`` and ``audit export`` to the `veil` command's subcommands."""
    audit = commands.add_parser("audit", help="check or export the audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = actions.add_parser(
        "verify", help="check the audit's hash chain; exit 1 with the first row that breaks it"
    )
    verify.set_defaults(handler=_verify)
    export = actions.add_parser("export", help="write the audit's rows, without thumbnails")
    export.add_argument("--format", choices=("json", "csv"), default="json", help="default json")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=_export)


def _open(home: Path | None) -> tuple[sqlite3.Connection, Path]:
    from proxy.settings import load_settings
    from proxy.store import StoreError

    path = load_settings(home).db_path
    if not path.exists():
        raise StoreError(f"there is no audit at {path}")
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    if db.execute("PRAGMA user_version").fetchone()[0] < CHAINED_SINCE:
        db.close()
        raise StoreError(f"{path} has no chain yet: `veil run` adds it when it starts")
    return db, path


def _waiting(path: Path) -> str:
    from proxy.auditspool import spool_path

    try:
        count = len(spool_path(path).read_bytes().splitlines())
    except FileNotFoundError:
        return ""
    return f"; {count} more rows wait in the spool, to be written by `veil run`"


def _verify(args: argparse.Namespace) -> int:
    from proxy.auditchain import verify

    db, path = _open(args.home)
    try:
        verdict = verify(db)
    finally:
        db.close()
    if verdict.broken is not None:
        print(
            f"audit chain broken at row {verdict.broken}: it was changed, or a row before it "
            f"was deleted ({verdict.rows - 1} rows before it verify)"
        )
        return 1
    print(f"audit chain intact: {verdict.rows} rows, head {verdict.head}{_waiting(path)}")
    return 0


def export_rows(db: sqlite3.Connection) -> tuple[list[str], list[dict[str, object]]]:
    """Every row, oldest first, as the table holds it (lists as lists, no NaN or infinity)."""
    from proxy.audit import COLUMNS

    lists = {column.name for column in COLUMNS if column.kind == "strings"}
    cursor = db.execute("SELECT * FROM audit ORDER BY id")
    names = [item[0] for item in cursor.description]
    rows = []
    for values in cursor:
        row = dict(zip(names, values, strict=True))
        for name, value in row.items():
            if name in lists and isinstance(value, str):
                row[name] = json.loads(value)
            elif isinstance(value, float) and not math.isfinite(value):
                row[name] = None
        rows.append(row)
    return names, rows


def _export(args: argparse.Namespace) -> int:
    db, _ = _open(args.home)
    try:
        names, rows = export_rows(db)
    finally:
        db.close()
    if args.format == "json":
        text = json.dumps(rows, indent=1, allow_nan=False) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, names, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()}
            )
        text = buffer.getvalue()
    if args.output is None:
        sys.stdout.write(text)
    else:  # the audit says where one went and what one posted: its owner's alone
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    return 0
