"""Veil's SQLite database: site policies and the audit log of every upload it saw.

``Store`` is the one object the rest of Veil uses. It owns the connections, the schema and
its migrations, and the policies table; the audit log's entries are ``proxy.audit`` (whose
names callers use are re-exported here), its SQL ``proxy.auditlog``, its writer (which never
waits on a lock, and spools) ``proxy.auditwriter`` and its hash chain ``proxy.auditchain``.
Reads run on the asyncio loop thread, policy writes on a worker thread: each call is one
short transaction on a WAL database, and a lock another program holds for longer than the
call may wait raises ``StoreBusy``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from filters import LEGACY_STRENGTHS
from proxy import auditchain, auditlog
from proxy.audit import (
    MAX_AUDIT_ENTRIES,
    OUTCOMES,
    THUMBNAIL_KINDS,
    AuditEntry,
    StoreBusy,
    StoreError,
)
from proxy.auditwriter import SPOOL_SCHEMA, AuditWriter, is_busy
from proxy.policies import ACTIVITY_POLICIES, DEFAULT_POLICIES, Policy, best_policy
from proxy.policyrows import POLICY_COLUMNS, POLICY_SCHEMA, read_policy, write_policy
from proxy.sites import normalize_site
from proxy.zones import Zones, parse_zones

__all__ = [
    "MAX_AUDIT_ENTRIES",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "THUMBNAIL_KINDS",
    "AuditEntry",
    "Store",
    "StoreBusy",
    "StoreError",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bump with a new entry in _MIGRATIONS; PRAGMA user_version records what a file holds.
SCHEMA_VERSION = 6
# How long a call waits for a lock another program holds. Opening may migrate: it waits as
# long as sqlite3's default. A page of the audit is read on the event loop, and WAL readers
# wait only in rare cases (a writer in exclusive locking mode): not long. A policy write runs
# off the loop and is rare; past a second the API answers 503 rather than hang.
OPEN_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 0.5
POLICY_WRITE_TIMEOUT_S = 1.0
# Version n -> n + 1, run in order on older files. The audit table is made from the audit
# entry's fields as they are now; a field added since a file was made becomes a new column
# when it is opened (auditlog.add_missing_columns), so a new measurement needs no migration.
_MIGRATIONS: dict[int, str] = {
    0: POLICY_SCHEMA + auditlog.audit_schema(),
    1: "ALTER TABLE policies ADD COLUMN profile TEXT NOT NULL DEFAULT 'facebook'",
    # Strengths named by what a person sees: low and medium are invisible, high is strong.
    2: "UPDATE policies SET strength = CASE strength "
    + " ".join(f"WHEN '{old}' THEN '{new}'" for old, new in LEGACY_STRENGTHS.items())
    + " ELSE strength END",
    # Face filters changed every face before a policy could say whose.
    3: "ALTER TABLE policies ADD COLUMN faces TEXT NOT NULL DEFAULT 'all'",
    # A tamper-evident audit, written through a spool when the file is locked.
    4: auditchain.CHAIN_SCHEMA + SPOOL_SCHEMA,
    # The user's preferences that are not a site's policy: the privacy zones.
    5: "CREATE TABLE IF NOT EXISTS preferences (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
}
ZONES_KEY = "zones"


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
        # Reads share one connection (the loop thread and, rarely, helpers): a lock keeps it
        # serial. Policy writes have their own, so a write waiting on a lock delays no read.
        self._lock = threading.RLock()
        self._policy_lock = threading.Lock()
        try:
            self._db = _connect(self.path, OPEN_TIMEOUT_S)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._migrate(seed_defaults)
            self._db.execute(f"PRAGMA busy_timeout = {int(READ_TIMEOUT_S * 1000)}")
            self._policy_db = _connect(self.path, POLICY_WRITE_TIMEOUT_S)
            self._audit = AuditWriter(self.path, max_audit_entries)
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
        with _transaction(self._db, self._lock):
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            # Seeded once, when the file is new, so that a user's deletions stick.
            if version == 0 and seed_defaults:
                for policy in DEFAULT_POLICIES:
                    write_policy(self._db, policy)
            added = auditlog.add_missing_columns(self._db)
            if added:
                log.info("added audit columns %s to %s", ", ".join(added), self.path)
            if version < 5:  # rows from before the chain start it, oldest first
                auditchain.backfill(self._db)
            if 0 < version < 6 and seed_defaults:  # the activity sites, shipped with version 6
                for policy in ACTIVITY_POLICIES:
                    if (
                        self._db.execute(
                            "SELECT 1 FROM policies WHERE site = ?", (policy.site,)
                        ).fetchone()
                        is None
                    ):
                        write_policy(self._db, policy)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _read(self, read: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, _busy():
            return read(self._db)

    def close(self) -> None:
        """Write what the audit can in a moment (the rest stays spooled), then close."""
        self._audit.close()
        with self._lock:
            self._db.close()
        with self._policy_lock:
            self._policy_db.close()

    # Policies -----------------------------------------------------------------------------

    def list_policies(self) -> list[Policy]:
        """Every usable policy, by site; a row today's rules refuse is logged and left out."""
        query = f"SELECT {POLICY_COLUMNS} FROM policies ORDER BY site"
        rows = self._read(lambda db: db.execute(query).fetchall())
        policies = []
        for row in rows:
            try:
                policies.append(read_policy(row))
            except StoreError as error:
                # One stale row (e.g. a site pattern a newer public suffix list refuses)
                # must not stop the proxy; it stays in the file for the user to see.
                log.warning("ignoring a stored policy: %s", error)
        return policies

    def get_policy(self, site: str) -> Policy | None:
        """The policy stored for exactly this site pattern, or None."""
        query = f"SELECT {POLICY_COLUMNS} FROM policies WHERE site = ?"
        row = self._read(lambda db: db.execute(query, (normalize_site(site),)).fetchone())
        return read_policy(row) if row else None

    def put_policy(self, policy: Policy) -> bool:
        """Create or replace the policy of ``policy.site``; True when it was created.
        Call it off the event loop: it may wait :data:`POLICY_WRITE_TIMEOUT_S` for a lock."""
        with _busy(), _transaction(self._policy_db, self._policy_lock):
            exists = self._policy_db.execute(
                "SELECT 1 FROM policies WHERE site = ?", (policy.site,)
            ).fetchone()
            write_policy(self._policy_db, policy)
        return exists is None

    def get_zones(self) -> Zones:
        """The privacy zones, none until the user sets some."""
        row = self._read(
            lambda db: db.execute(
                "SELECT value FROM preferences WHERE key = ?", (ZONES_KEY,)
            ).fetchone()
        )
        return parse_zones(json.loads(row[0])) if row else Zones()

    def put_zones(self, zones: Zones) -> None:
        """Replace the privacy zones; off the event loop, like :meth:`put_policy`."""
        value = json.dumps(zones.to_dict())
        with _busy(), _transaction(self._policy_db, self._policy_lock):
            self._policy_db.execute(
                "INSERT OR REPLACE INTO preferences (key, value) VALUES (?, ?)", (ZONES_KEY, value)
            )

    def delete_policy(self, site: str) -> bool:
        """Remove the policy of exactly this site pattern; True when there was one.
        Call it off the event loop, like :meth:`put_policy`."""
        with _busy(), _transaction(self._policy_db, self._policy_lock):
            cursor = self._policy_db.execute(
                "DELETE FROM policies WHERE site = ?", (normalize_site(site),)
            )
        return cursor.rowcount > 0

    def policy_for_host(self, host: str) -> Policy | None:
        """The most specific policy covering the host (it may be a disabled one)."""
        return best_policy(self.list_policies(), host)

    def protected_sites(self) -> list[str]:
        """Site patterns of the enabled policies."""
        return [policy.site for policy in self.list_policies() if policy.enabled]

    # Audit (the SQL is in proxy.auditlog, the writer in proxy.auditwriter) ----------------

    def add_audit(self, entry: AuditEntry) -> int | None:
        """Record one upload (thumbnails included) without waiting on a lock: returns and sets
        ``entry.id`` when written now, None when spooled (it shows in the pages once written).

        Raises StoreError for a value the audit must not hold.
        """
        return self._audit.submit(entry)

    @property
    def audit_pending(self) -> int:
        """Audit rows spooled and not yet written."""
        return self._audit.pending

    def flush_audit(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for spooled audit rows to be written (not on the loop)."""
        return self._audit.flush(timeout)

    def list_audit(
        self, site: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AuditEntry], int]:
        """Newest first: one page of entries (without thumbnail bytes) and the total count."""
        return self._read(lambda db: auditlog.list_audit(db, site, limit, offset))

    def get_audit(self, entry_id: int) -> AuditEntry | None:
        """One entry, thumbnails included, or None."""
        return self._read(lambda db: auditlog.get_audit(db, entry_id))

    def get_thumbnail(self, entry_id: int, which: str) -> bytes | None:
        """The before/after thumbnail bytes of an entry, or None when it has none."""
        return self._read(lambda db: auditlog.get_thumbnail(db, entry_id, which))

    def stats(self) -> dict[str, object]:
        """Totals by outcome and by site, bytes, median time, metadata removed, last upload."""
        return self._read(auditlog.audit_stats)


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    return db


@contextmanager
def _transaction(db: sqlite3.Connection, lock: threading.Lock | threading.RLock) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK on any error."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@contextmanager
def _busy() -> Iterator[None]:
    """A lock another program held past the call's timeout, as StoreBusy."""
    try:
        yield
    except sqlite3.OperationalError as error:
        if is_busy(error):
            raise StoreBusy("Veil's database is locked by another program") from error
        raise
