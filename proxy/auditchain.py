"""The audit's hash chain: each row's ``chain`` is the SHA-256 of the row before's chain and
the row's own columns, so a row edited or deleted by hand shows in ``veil audit verify``.

Pruning keeps the chain of the newest row it dropped as the anchor the oldest kept row
follows. What a chain cannot show: the newest rows deleted with nothing after them, or every
row from some point on rewritten with new chains; the head that ``veil audit verify`` prints,
noted somewhere else, shows both. Thumbnails are not covered.
Functions on an open ``sqlite3.Connection``, inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CHAIN_SCHEMA",
    "GENESIS",
    "Verdict",
    "anchor",
    "backfill",
    "chain_row",
    "link",
    "verify",
]

# What the first row follows when nothing was ever pruned.
GENESIS = "0" * 64
# Schema version 5 (a migration in proxy.store): the chain column and the pruning anchor.
CHAIN_SCHEMA = """
ALTER TABLE audit ADD COLUMN chain TEXT;
CREATE TABLE audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    audit_id INTEGER NOT NULL,
    chain TEXT NOT NULL
);
"""
# Not the row's content: its place (the chain covers order) and the chain itself.
_NOT_CHAINED = ("id", "chain")


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: rows read, the last good chain, the first broken row."""

    rows: int
    head: str
    broken: int | None = None


def link(previous: str, values: Mapping[str, object]) -> str:
    """The chain of a row with these column values after a row whose chain is ``previous``.

    Empty values (NULL, an empty list) are left out, so a column added to the table later
    leaves the chains of older rows as they were.

    >>> link(GENESIS, {"site": "a.example", "reason": None}) == link(GENESIS, {"site": "a.example"})
    True
    """
    kept = {name: value for name, value in values.items() if value is not None and value != "[]"}
    text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((previous + text).encode()).hexdigest()


def _columns(db: sqlite3.Connection) -> list[str]:
    # The table's own columns, not today's fields: a row is chained as it is stored.
    return [row[1] for row in db.execute("PRAGMA table_info(audit)") if row[1] not in _NOT_CHAINED]


def _start(db: sqlite3.Connection) -> tuple[int, str]:
    """The id and chain the oldest row follows: the pruning anchor, or nothing."""
    row = db.execute("SELECT audit_id, chain FROM audit_anchor WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def _previous(db: sqlite3.Connection, audit_id: int) -> str:
    row = db.execute(
        "SELECT chain FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1", (audit_id,)
    ).fetchone()
    return str(row[0]) if row else _start(db)[1]


def chain_row(db: sqlite3.Connection, audit_id: int) -> str:
    """Chain a row just inserted: its values are read back, as SQLite stores them (a NaN is
    NULL there), so that verifying later computes the same."""
    columns = _columns(db)
    row = db.execute(f"SELECT {', '.join(columns)} FROM audit WHERE id = ?", (audit_id,)).fetchone()
    chain = link(_previous(db, audit_id), dict(zip(columns, row, strict=True)))
    db.execute("UPDATE audit SET chain = ? WHERE id = ?", (chain, audit_id))
    return chain


def anchor(db: sqlite3.Connection, audit_id: int, chain: str) -> None:
    """Pruning is about to drop rows up to ``audit_id``: the next one follows its chain."""
    db.execute(
        "INSERT OR REPLACE INTO audit_anchor (id, audit_id, chain) VALUES (1, ?, ?)",
        (audit_id, chain),
    )


def backfill(db: sqlite3.Connection) -> int:
    """Chain the rows written before the audit had a chain, oldest first; returns how many."""
    ids = [row[0] for row in db.execute("SELECT id FROM audit WHERE chain IS NULL ORDER BY id")]
    for audit_id in ids:
        chain_row(db, audit_id)
    return len(ids)


def verify(db: sqlite3.Connection) -> Verdict:
    """Walk the chain from the anchor; ``broken`` is the first row that does not follow."""
    columns = _columns(db)
    floor, previous = _start(db)
    rows = 0
    query = f"SELECT id, chain, {', '.join(columns)} FROM audit ORDER BY id"
    for row in db.execute(query):
        rows += 1
        audit_id, stored = row[0], row[1]
        if audit_id <= floor or stored != link(previous, dict(zip(columns, row[2:], strict=True))):
            return Verdict(rows, previous, audit_id)
        previous = stored
    return Verdict(rows, previous)
