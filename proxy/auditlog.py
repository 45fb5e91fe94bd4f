"""The audit log's SQL: its tables, made from the entries' columns, and the rows, pages,
thumbnails and stats. Functions on an open ``sqlite3.Connection``; ``proxy.store.Store`` owns
the reading connection, ``proxy.auditwriter.AuditWriter`` the writing one and its transactions,
and ``proxy.auditchain`` the rows' hash chain."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace

from filters import ProtectionRecord
from filters.record import RecordField
from proxy import auditchain
from proxy.audit import (
    COLUMNS,
    MAX_TEXT,
    OUTCOMES,
    RECORD_COLUMNS,
    THUMBNAIL_KINDS,
    UPLOAD_COLUMNS,
    AuditEntry,
    StoreError,
    utc_now,
)
from proxy.sites import normalize_site

__all__ = [
    "add_missing_columns",
    "audit_schema",
    "audit_stats",
    "column_sql",
    "get_audit",
    "get_thumbnail",
    "insert_row",
    "list_audit",
    "missing_columns",
    "prune_audit",
    "row_values",
]

_SQL_TYPES = {"boolean": "INTEGER", "integer": "INTEGER", "number": "REAL", "string": "TEXT"}


def column_sql(column: RecordField) -> str:
    """A column's definition; lists are JSON text, never NULL. Record columns are NULL on
    entries without a record, so only the entry's own required fields are NOT NULL.

    >>> column_sql(RECORD_COLUMNS[0]), column_sql(UPLOAD_COLUMNS[0])
    ('sha256_before TEXT', 'site TEXT NOT NULL')
    """
    if column.kind == "strings":
        return f"{column.name} TEXT NOT NULL DEFAULT '[]'"
    required = column in UPLOAD_COLUMNS and not column.nullable
    return f"{column.name} {_SQL_TYPES[column.kind]}" + (" NOT NULL" if required else "")


def audit_schema() -> str:
    """The audit tables as a new database gets them."""
    columns = ",\n    ".join(column_sql(column) for column in COLUMNS)
    kinds = ", ".join(f"'{kind}'" for kind in THUMBNAIL_KINDS)
    return f"""
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    {columns}
);
CREATE INDEX audit_site ON audit (site, id);
-- Thumbnails apart, so listing the log never reads image bytes.
CREATE TABLE thumbnails (
    audit_id INTEGER NOT NULL REFERENCES audit (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ({kinds})),
    data BLOB NOT NULL,
    PRIMARY KEY (audit_id, kind)
);
"""


def missing_columns(db: sqlite3.Connection) -> list[RecordField]:
    """The columns an existing audit table lacks: fields added since the file was made."""
    present = {row[1] for row in db.execute("PRAGMA table_info(audit)")}
    return [column for column in COLUMNS if column.name not in present]


def add_missing_columns(db: sqlite3.Connection) -> list[str]:
    """Add the :func:`missing_columns` to the audit table; returns their names."""
    missing = missing_columns(db)
    for column in missing:
        db.execute(f"ALTER TABLE audit ADD COLUMN {column_sql(column)}")
    return [column.name for column in missing]


_SELECT_AUDIT = (
    f"SELECT id, time, {', '.join(c.name for c in COLUMNS)}, "
    "(SELECT group_concat(kind) FROM thumbnails WHERE audit_id = audit.id) FROM audit"
)


def _sql_value(column: RecordField, value: object) -> object:
    """A value as its column stores it; numpy scalars become plain numbers, long texts are cut."""
    if column.kind == "strings":
        return json.dumps([str(item) for item in value or ()])  # type: ignore[attr-defined]
    if value is None:
        return None
    if column.kind in ("integer", "boolean"):
        return int(value)  # type: ignore[call-overload]
    if column.kind == "number":
        return float(value)  # type: ignore[arg-type]
    return str(value)[:MAX_TEXT]


def row_values(entry: AuditEntry) -> dict[str, object]:
    """The entry's row as its columns store it, timed now; refuses what the table must not hold."""
    if entry.outcome not in OUTCOMES:
        raise StoreError(f"outcome must be one of {', '.join(OUTCOMES)}, not {entry.outcome!r}")
    if not isinstance(entry.site, str) or not isinstance(entry.method, str):
        raise StoreError("site and method must be strings")
    values: dict[str, object] = {"time": utc_now()}
    for column in UPLOAD_COLUMNS:
        values[column.name] = _sql_value(column, getattr(entry, column.name))
    for column in RECORD_COLUMNS:
        value = getattr(entry.record, column.name) if entry.record is not None else None
        values[column.name] = _sql_value(column, value)
    return values


def _entry(row: tuple) -> AuditEntry:
    values = dict(zip(("time", *(c.name for c in COLUMNS)), row[1:-1], strict=True))
    for column in COLUMNS:
        if column.kind == "strings":
            values[column.name] = json.loads(values[column.name] or "[]")
        elif column.kind == "boolean" and values[column.name] is not None:
            values[column.name] = bool(values[column.name])  # SQLite keeps 0 and 1
    measured = {c.name: values.pop(c.name) for c in RECORD_COLUMNS}
    # A row holds a record when protecting measured anything (blocked rows hold none).
    has_record = any(v not in (None, []) for v in measured.values())
    record = ProtectionRecord(**measured) if has_record else None  # type: ignore[arg-type]
    kinds = tuple(row[-1].split(",")) if row[-1] else ()
    return AuditEntry(**values, record=record, id=row[0], thumbnails=kinds)


def _site_filter(site: str | None) -> tuple[str, list[object]]:
    """SQL condition on audit.site: an exact host, or a *.domain pattern with its subdomains."""
    if site is None:
        return "", []
    pattern = normalize_site(site)
    if pattern.startswith("*."):
        # Normalized names hold only [a-z0-9.-], so LIKE has no wildcard to escape.
        return " WHERE (site = ? OR site LIKE ?)", [pattern[2:], "%." + pattern[2:]]
    return " WHERE site = ?", [pattern]


def insert_row(
    db: sqlite3.Connection, values: dict[str, object], thumbnails: dict[str, bytes]
) -> int:
    """Insert one row (:func:`row_values`) and its thumbnails, chained to the row before,
    inside the caller's transaction; returns the new id."""
    names = ", ".join(values)
    cursor = db.execute(
        f"INSERT INTO audit ({names}) VALUES ({', '.join('?' * len(values))})",
        tuple(values.values()),
    )
    entry_id = int(cursor.lastrowid or 0)
    for kind, data in thumbnails.items():
        if kind not in THUMBNAIL_KINDS:
            raise StoreError(f"thumbnail kind must be one of {', '.join(THUMBNAIL_KINDS)}")
        db.execute("INSERT INTO thumbnails VALUES (?, ?, ?)", (entry_id, kind, data))
    auditchain.chain_row(db, entry_id)
    return entry_id


def prune_audit(db: sqlite3.Connection, keep: int) -> None:
    """Drop the oldest entries beyond ``keep`` (their thumbnails go by cascade); the chain of
    the newest dropped becomes the anchor, so the kept rows still verify."""
    newest_dropped = db.execute(
        "SELECT id, chain FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?", (keep,)
    ).fetchone()
    if newest_dropped is not None:
        auditchain.anchor(db, *newest_dropped)
        db.execute("DELETE FROM audit WHERE id <= ?", (newest_dropped[0],))


def list_audit(
    db: sqlite3.Connection, site: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """Newest first: one page of entries (without thumbnail bytes) and the total count."""
    if limit < 0 or offset < 0:
        raise StoreError("limit and offset must not be negative")
    where, params = _site_filter(site)
    total = db.execute(f"SELECT count(*) FROM audit{where}", params).fetchone()[0]
    rows = db.execute(
        f"{_SELECT_AUDIT}{where} ORDER BY id DESC LIMIT ? OFFSET ?", [*params, limit, offset]
    ).fetchall()
    return [_entry(row) for row in rows], total


def get_audit(db: sqlite3.Connection, entry_id: int) -> AuditEntry | None:
    """One entry, thumbnails included, or None."""
    row = db.execute(f"{_SELECT_AUDIT} WHERE id = ?", (entry_id,)).fetchone()
    if row is None:
        return None
    entry = _entry(row)
    if entry.record is not None:
        thumbs = {
            f"thumb_{kind}": get_thumbnail(db, entry_id, kind) or b"" for kind in THUMBNAIL_KINDS
        }
        entry.record = replace(entry.record, **thumbs)
    return entry


def get_thumbnail(db: sqlite3.Connection, entry_id: int, which: str) -> bytes | None:
    """The before/after thumbnail bytes of an entry, or None when it has none."""
    if which not in THUMBNAIL_KINDS:
        raise StoreError(f"which must be one of {', '.join(THUMBNAIL_KINDS)}, not {which!r}")
    row = db.execute(
        "SELECT data FROM thumbnails WHERE audit_id = ? AND kind = ?", (entry_id, which)
    ).fetchone()
    return bytes(row[0]) if row else None


def _count_by(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    return {str(key): int(count) for key, count in rows}


def _median_elapsed(db: sqlite3.Connection) -> float | None:
    timed = db.execute("SELECT count(*) FROM audit WHERE elapsed_ms IS NOT NULL").fetchone()[0]
    if not timed:
        return None
    # The middle one, or the mean of the middle two.
    middle = db.execute(
        "SELECT elapsed_ms FROM audit WHERE elapsed_ms IS NOT NULL ORDER BY elapsed_ms "
        "LIMIT ? OFFSET ?",
        (2 - timed % 2, (timed - 1) // 2),
    ).fetchall()
    return sum(value for (value,) in middle) / len(middle)


def audit_stats(db: sqlite3.Connection) -> dict[str, object]:
    """Totals by outcome and by site, bytes, median time, metadata removed, last upload."""
    total, bytes_before, bytes_after, last = db.execute(
        "SELECT count(*), coalesce(sum(size_before), 0), coalesce(sum(size_after), 0), max(time) "
        "FROM audit"
    ).fetchone()
    by_outcome = dict.fromkeys(OUTCOMES, 0)
    by_outcome.update(_count_by(db.execute("SELECT outcome, count(*) FROM audit GROUP BY outcome")))
    sites = [
        {"site": site, "total": count, "protected": protected, "passed": passed, "blocked": blocked}
        for site, count, protected, passed, blocked in db.execute(
            "SELECT site, count(*), sum(outcome = 'protected'), sum(outcome = 'passed'), "
            "sum(outcome = 'blocked') FROM audit GROUP BY site ORDER BY count(*) DESC, site"
        )
    ]
    metadata = _count_by(
        db.execute(
            "SELECT value, count(*) FROM audit, json_each(audit.metadata_removed) "
            "GROUP BY value ORDER BY count(*) DESC, value"
        )
    )
    return {
        "total": total,
        "by_outcome": by_outcome,
        "sites": sites,
        "bytes_before": bytes_before,
        "bytes_after": bytes_after,
        "median_elapsed_ms": _median_elapsed(db),
        "metadata_removed": metadata,
        "last_upload": last,
    }
