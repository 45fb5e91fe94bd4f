"""The audit log: one row per image upload Veil saw, its thumbnails, and the stats over them.

Functions on an open ``sqlite3.Connection``; ``proxy.store.Store`` owns the connection, its
lock and transactions, and is what the rest of Veil calls.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

from proxy.policies import normalize_site

__all__ = [
    "AUDIT_SCHEMA",
    "MAX_AUDIT_ENTRIES",
    "MAX_TEXT",
    "OUTCOMES",
    "THUMBNAIL_KINDS",
    "AuditEntry",
    "StoreError",
    "audit_stats",
    "get_audit",
    "get_thumbnail",
    "insert_audit",
    "list_audit",
    "prune_audit",
    "utc_now",
]

# The audit log keeps at most this many uploads (with thumbnails, a few hundred MB at worst).
MAX_AUDIT_ENTRIES = 10_000
# Long paths and error texts are cut here: the log is for people, and must stay small.
MAX_TEXT = 2_000
OUTCOMES = ("protected", "passed", "blocked")
THUMBNAIL_KINDS = ("before", "after")


class StoreError(ValueError):
    """The database or a value given to it is unusable; the message says why.

    Defined here, in the lower of the two database modules; ``proxy.store`` re-exports it.
    """


def utc_now() -> str:
    """ISO-8601 UTC time with milliseconds, e.g. 2026-06-01T12:34:56.789Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class AuditEntry:
    """One image upload that Veil saw, and what it did with it."""

    site: str
    method: str
    path: str  # without the query string, which may carry tokens
    policy_site: str | None
    filters: list[str]
    strength: str | None
    outcome: str  # one of OUTCOMES
    reason: str | None = None  # why blocked or passed
    filename: str | None = None
    field_name: str | None = None
    format: str | None = None
    sha256_before: str | None = None
    sha256_after: str | None = None
    size_before: int | None = None
    size_after: int | None = None
    width: int | None = None
    height: int | None = None
    metadata_removed: list[str] = field(default_factory=list)
    label_before: str | None = None
    confidence_before: float | None = None
    label_after: str | None = None
    confidence_after: float | None = None
    ssim: float | None = None
    psnr: float | None = None
    elapsed_ms: float | None = None
    thumb_before: bytes | None = None
    thumb_after: bytes | None = None
    id: int | None = None
    time: str | None = None  # set by the store
    # Which thumbnails the store holds, for entries read back without their bytes.
    thumbnails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.path = self.path.split("?", 1)[0].split("#", 1)[0]

    @property
    def has_thumbnails(self) -> bool:
        return bool(self.thumb_before or self.thumb_after or self.thumbnails)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly: no thumbnail bytes, and no NaN or infinity (JSON has neither)."""
        data = {name: getattr(self, name) for name in ("id", *_COLUMNS)}
        for name in _FLOATS:
            if data[name] is not None and not math.isfinite(data[name]):
                data[name] = None
        kinds = [k for k in THUMBNAIL_KINDS if k in self.thumbnails or getattr(self, f"thumb_{k}")]
        data.update(filters=list(self.filters), metadata_removed=list(self.metadata_removed))
        data.update(has_thumbnails=bool(kinds), thumbnails=kinds)
        return data


_NOT_COLUMNS = {"id", "thumb_before", "thumb_after", "thumbnails"}
_COLUMNS = tuple(f.name for f in fields(AuditEntry) if f.name not in _NOT_COLUMNS)
_INTS = frozenset({"size_before", "size_after", "width", "height"})
_FLOATS = frozenset({"confidence_before", "confidence_after", "ssim", "psnr", "elapsed_ms"})
_JSON_LISTS = frozenset({"filters", "metadata_removed"})
_TEXTS = frozenset({"path", "reason", "filename", "field_name", "label_before", "label_after"})

# Part of proxy.store's schema version 1: change it only through a new migration there.
AUDIT_SCHEMA = """
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL, site TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    policy_site TEXT, filters TEXT NOT NULL, strength TEXT, outcome TEXT NOT NULL, reason TEXT,
    filename TEXT, field_name TEXT, format TEXT, sha256_before TEXT, sha256_after TEXT,
    size_before INTEGER, size_after INTEGER, width INTEGER, height INTEGER,
    metadata_removed TEXT NOT NULL, label_before TEXT, confidence_before REAL,
    label_after TEXT, confidence_after REAL, ssim REAL, psnr REAL, elapsed_ms REAL
);
CREATE INDEX audit_site ON audit (site, id);
-- Thumbnails apart, so listing the log never reads image bytes.
CREATE TABLE thumbnails (
    audit_id INTEGER NOT NULL REFERENCES audit (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('before', 'after')),
    data BLOB NOT NULL,
    PRIMARY KEY (audit_id, kind)
);
"""
_SELECT_AUDIT = (
    f"SELECT id, {', '.join(_COLUMNS)}, "
    "(SELECT group_concat(kind) FROM thumbnails WHERE audit_id = audit.id) FROM audit"
)


def _row_values(entry: AuditEntry) -> dict[str, object]:
    """Column values for an entry; numpy scalars become plain numbers, long texts are cut."""
    if entry.outcome not in OUTCOMES:
        raise StoreError(f"outcome must be one of {', '.join(OUTCOMES)}, not {entry.outcome!r}")
    if not isinstance(entry.site, str) or not isinstance(entry.method, str):
        raise StoreError("site and method must be strings")
    values: dict[str, object] = {}
    for name in _COLUMNS:
        value = getattr(entry, name)
        if name == "time":
            value = utc_now()
        elif value is None:
            pass
        elif name in _JSON_LISTS:
            value = json.dumps([str(item) for item in value])
        elif name in _INTS:
            value = int(value)
        elif name in _FLOATS:
            value = float(value)
        elif name in _TEXTS:
            value = str(value)[:MAX_TEXT]
        values[name] = value
    for name in _JSON_LISTS:
        values[name] = values[name] or "[]"
    return values


def _entry(row: tuple) -> AuditEntry:
    values = dict(zip(_COLUMNS, row[1:-1], strict=True))
    for name in _JSON_LISTS:
        values[name] = json.loads(values[name])
    kinds = tuple(row[-1].split(",")) if row[-1] else ()
    return AuditEntry(**values, id=row[0], thumbnails=kinds)


def _site_filter(site: str | None) -> tuple[str, list[object]]:
    """SQL condition on audit.site: an exact host, or a *.domain pattern with its subdomains."""
    if site is None:
        return "", []
    pattern = normalize_site(site)
    if pattern.startswith("*."):
        # Normalized names hold only [a-z0-9.-], so LIKE has no wildcard to escape.
        return " WHERE (site = ? OR site LIKE ?)", [pattern[2:], "%." + pattern[2:]]
    return " WHERE site = ?", [pattern]


def insert_audit(db: sqlite3.Connection, entry: AuditEntry) -> int:
    """Insert one entry and its thumbnails, inside the caller's transaction; sets ``entry.time``.

    Returns the new id; the caller sets ``entry.id`` once the transaction has committed.
    """
    values = _row_values(entry)
    names = ", ".join(values)
    cursor = db.execute(
        f"INSERT INTO audit ({names}) VALUES ({', '.join('?' * len(values))})",
        tuple(values.values()),
    )
    entry_id = int(cursor.lastrowid or 0)
    for kind, data in (("before", entry.thumb_before), ("after", entry.thumb_after)):
        if data:
            db.execute("INSERT INTO thumbnails VALUES (?, ?, ?)", (entry_id, kind, bytes(data)))
    entry.time = values["time"]  # type: ignore[assignment]
    return entry_id


def prune_audit(db: sqlite3.Connection, keep: int) -> None:
    """Drop the oldest entries beyond ``keep`` (their thumbnails go by cascade)."""
    newest_dropped = "SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?"
    db.execute(f"DELETE FROM audit WHERE id <= ({newest_dropped})", (keep,))


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
    entry.thumb_before = get_thumbnail(db, entry_id, "before")
    entry.thumb_after = get_thumbnail(db, entry_id, "after")
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
