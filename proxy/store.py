"""Veil's SQLite database: site policies and the audit log of every upload it saw.

``Store`` is the one object the rest of Veil uses. It owns the connection, its lock, the
schema and its migrations, and the policies table; the audit log's entries are
``proxy.audit`` (whose names callers use are re-exported here) and its SQL ``proxy.auditlog``.
Used from the asyncio loop thread; each call is one short transaction on a WAL database.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filters import LEGACY_STRENGTHS
from proxy import auditlog
from proxy.audit import (
    MAX_AUDIT_ENTRIES,
    OUTCOMES,
    THUMBNAIL_KINDS,
    AuditEntry,
    StoreError,
    utc_now,
)
from proxy.policies import DEFAULT_POLICIES, Policy, PolicyError, best_policy
from proxy.sites import normalize_site

__all__ = [
    "MAX_AUDIT_ENTRIES",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "THUMBNAIL_KINDS",
    "AuditEntry",
    "Store",
    "StoreError",
]

log = logging.getLogger(__name__)

# Bump with a new entry in _MIGRATIONS; PRAGMA user_version records what a file holds.
SCHEMA_VERSION = 4
_POLICY_SCHEMA = """
CREATE TABLE policies (
    site TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    filters TEXT NOT NULL,
    strength TEXT NOT NULL,
    on_failure TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""
# Version n -> n + 1, run in order on older files. The audit table is made from the audit
# entry's fields as they are now; a field added since a file was made becomes a new column
# when it is opened (auditlog.add_missing_columns), so a new measurement needs no migration.
_MIGRATIONS: dict[int, str] = {
    0: _POLICY_SCHEMA + auditlog.audit_schema(),
    1: "ALTER TABLE policies ADD COLUMN profile TEXT NOT NULL DEFAULT 'facebook'",
    # Strengths named by what a person sees: low and medium are invisible, high is strong.
    2: "UPDATE policies SET strength = CASE strength "
    + " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in LEGACY_STRENGTHS.items())
    + " ELSE strength END",
    # Face filters changed every face before a policy could say whose.
    3: "ALTER TABLE policies ADD COLUMN faces TEXT NOT NULL DEFAULT 'all'",
}
_POLICY_COLUMNS = "site, enabled, filters, strength, on_failure, profile, faces"


class Store:
    """Policies and audit log in one SQLite file (WAL); ``Store.open(path)`` is the usual entry."""

    def __init__(
        self,
        path: Path,
        *,
        seed_defaults: bool = True,
        max_audit_entries: int = MAX_AUDIT_ENTRIES,
    ) -> None:
        self.path = Path(path)
        self.max_audit_entries = max_audit_entries
        # One connection shared by the loop thread and, rarely, helpers: a lock keeps it serial.
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate(seed_defaults)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot use {self.path} as Veil's database: {error}") from error

    @classmethod
    def open(
        cls, path: Path, *, seed_defaults: bool = True, max_audit_entries: int = MAX_AUDIT_ENTRIES
    ) -> Store:
        """Open (creating if needed) the database; defaults are seeded only on creation."""
        return cls(path, seed_defaults=seed_defaults, max_audit_entries=max_audit_entries)

    def _migrate(self, seed_defaults: bool) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this Veil knows {SCHEMA_VERSION}"
            )
        if version == SCHEMA_VERSION and not auditlog.missing_columns(self._db):
            return
        with self._transaction():
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            # Seeded once, when the file is new, so that a user's deletions stick.
            if version == 0 and seed_defaults:
                for policy in DEFAULT_POLICIES:
                    self._write_policy(policy)
            added = auditlog.add_missing_columns(self._db)
            if added:
                log.info("added audit columns %s to %s", ", ".join(added), self.path)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Policies -----------------------------------------------------------------------------

    def list_policies(self) -> list[Policy]:
        """Every usable policy, by site; a row today's rules refuse is logged and left out."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_POLICY_COLUMNS} FROM policies ORDER BY site"
            ).fetchall()
        policies = []
        for row in rows:
            try:
                policies.append(_policy(row))
            except StoreError as error:
                # One stale row (e.g. a site pattern a newer public suffix list refuses)
                # must not stop the proxy; it stays in the file for the user to see.
                log.warning("ignoring a stored policy: %s", error)
        return policies

    def get_policy(self, site: str) -> Policy | None:
        """The policy stored for exactly this site pattern, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_POLICY_COLUMNS} FROM policies WHERE site = ?", (normalize_site(site),)
            ).fetchone()
        return _policy(row) if row else None

    def put_policy(self, policy: Policy) -> bool:
        """Create or replace the policy of ``policy.site``; True when it was created."""
        with self._transaction():
            exists = self._db.execute(
                "SELECT 1 FROM policies WHERE site = ?", (policy.site,)
            ).fetchone()
            self._write_policy(policy)
        return exists is None

    def _write_policy(self, policy: Policy) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO policies ({_POLICY_COLUMNS}, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                policy.site,
                int(policy.enabled),
                json.dumps(list(policy.filters)),
                policy.strength,
                policy.on_failure,
                policy.profile,
                policy.faces,
                utc_now(),
            ),
        )

    def delete_policy(self, site: str) -> bool:
        """Remove the policy of exactly this site pattern; True when there was one."""
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM policies WHERE site = ?", (normalize_site(site),)
            )
        return cursor.rowcount > 0

    def policy_for_host(self, host: str) -> Policy | None:
        """The most specific policy covering the host (it may be a disabled one)."""
        return best_policy(self.list_policies(), host)

    def protected_sites(self) -> list[str]:
        """Site patterns of the enabled policies."""
        return [policy.site for policy in self.list_policies() if policy.enabled]

    # Audit (the SQL is in proxy.auditlog) -------------------------------------------------

    def add_audit(self, entry: AuditEntry) -> int:
        """Record one upload (thumbnails included); sets and returns ``entry.id``."""
        with self._transaction():
            entry_id = auditlog.insert_audit(self._db, entry)
            auditlog.prune_audit(self._db, self.max_audit_entries)
        entry.id = entry_id
        return entry_id

    def list_audit(
        self, site: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEntry], int]:
        """Newest first: one page of entries (without thumbnail bytes) and the total count."""
        with self._lock:
            return auditlog.list_audit(self._db, site, limit, offset)

    def get_audit(self, entry_id: int) -> AuditEntry | None:
        """One entry, thumbnails included, or None."""
        with self._lock:
            return auditlog.get_audit(self._db, entry_id)

    def get_thumbnail(self, entry_id: int, which: str) -> bytes | None:
        """The before/after thumbnail bytes of an entry, or None when it has none."""
        with self._lock:
            return auditlog.get_thumbnail(self._db, entry_id, which)

    def stats(self) -> dict[str, object]:
        """Totals by outcome and by site, bytes, median time, metadata removed, last upload."""
        with self._lock:
            return auditlog.audit_stats(self._db)


def _policy(row: tuple) -> Policy:
    site, enabled, filters, strength, on_failure, profile, faces = row
    try:
        return Policy(
            site, bool(enabled), tuple(json.loads(filters)), strength, on_failure, profile, faces
        )
    except (PolicyError, ValueError, TypeError) as error:
        raise StoreError(f"stored policy {site!r} is unusable: {error}") from error
