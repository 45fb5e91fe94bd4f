"""Audit rows that never wait on a database another program has locked, and are never lost.

``AuditWriter.submit`` writes a row at once when the database is free and no spooled row
must go first: one short insert with a busy timeout of 0, so the event loop never waits on a
lock. Otherwise the row goes to the spool (``proxy.auditspool``: a JSON-lines file beside the
database, fsync'd) and a thread drains it in order, retrying with backoff while the database
stays locked. A spool left by a crash is drained when the writer starts. Spooled rows are in
no page of the audit until they are written.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from proxy import auditlog
from proxy.audit import THUMBNAIL_KINDS, AuditEntry, StoreBusy, StoreError
from proxy.auditspool import Spool, spool_path

__all__ = ["CLOSE_WAIT_S", "SPOOL_SCHEMA", "AuditWriter", "is_busy"]

log = logging.getLogger(__name__)

# Schema version 5 (a migration in proxy.store): the last spool line written to the table.
SPOOL_SCHEMA = """
CREATE TABLE audit_spool (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
"""
# Waits between tries while the database stays locked: soon at first, then every 2 s.
RETRY_FIRST_S = 0.05
RETRY_LONGEST_S = 2.0
# At close, how long to keep trying before the rest stays in the spool for the next start.
CLOSE_WAIT_S = 1.0
# Spool lines per transaction: a long backlog goes in steps, each a short write lock.
BATCH = 100


def is_busy(error: sqlite3.Error) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock (extended codes too)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


class AuditWriter:
    """Writes audit rows on its own connection; see the module's docstring."""

    def __init__(self, db_path: Path, max_entries: int) -> None:
        self.max_entries = max_entries
        # Busy timeout 0: a locked database answers at once, and the row goes to the spool.
        self._db = sqlite3.connect(
            db_path, timeout=0, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")  # pruning drops thumbnails by cascade
        self._db_lock = threading.Lock()  # the connection: the caller's insert or a drain
        self._lock = threading.Lock()  # the spool and the thread
        self.spool = Spool(spool_path(db_path))
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._closing: float | None = None  # time.monotonic() when close gives up
        with self._lock:
            self._own()

    def submit(self, entry: AuditEntry) -> int | None:
        """Write or spool one entry; returns its id when written now, None when spooled.

        Raises StoreError for a value the table must not hold, before anything is written,
        and StoreBusy when the database is locked and another process owns the spool.
        """
        values = auditlog.row_values(entry)
        thumbnails = {k: bytes(d) for k in THUMBNAIL_KINDS if (d := entry.thumbnail(k))}
        entry.time = values["time"]  # type: ignore[assignment]
        with self._lock:
            # Straight to the table only when no spooled row must go first.
            if not self.spool.pending and self._closing is None and self._db_lock.acquire(False):
                try:
                    entry.id = self._insert_now(values, thumbnails)
                finally:
                    self._db_lock.release()
                if entry.id is not None:
                    return entry.id
            if not self._own():
                if self._closing is not None:
                    raise StoreError("the audit is closed")
                raise StoreBusy("the audit database is locked and another Veil owns its spool")
            self.spool.append(values, thumbnails)
            if self._closing is None:  # after close, the next start drains it
                self._start_draining()
        return None

    @property
    def pending(self) -> int:
        """Rows in the spool, not yet in the table."""
        return self.spool.pending

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the spool to drain; True when it has."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self.spool.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.spool.pending

    def close(self) -> None:
        """Drain what the next :data:`CLOSE_WAIT_S` allow; the rest waits in the spool."""
        with self._lock:
            self._closing = time.monotonic() + CLOSE_WAIT_S
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(CLOSE_WAIT_S + 1.0)
        with self._db_lock:
            self._db.close()
        with self._lock:
            if self.spool.pending:
                log.warning("%d audit rows wait in %s", self.spool.pending, self.spool.path)
            self.spool.release()

    def _own(self) -> bool:
        """Under the lock: whether this process owns the spool. Taking it, it first counts
        what the last owner left (a crash's rows) and starts writing them."""
        if self.spool.owned:
            return True
        if self._closing is not None or not self.spool.own():
            return False
        with self._db_lock:  # free: no drain runs before the spool is owned
            last_seq = self._last_seq()
        if self.spool.recover(last_seq):
            log.info("writing %d audit rows left in %s", self.spool.pending, self.spool.path)
            if self._closing is None:
                self._start_draining()
        return True

    def _insert_now(self, values: dict[str, object], thumbnails: dict[str, bytes]) -> int | None:
        """One row in its own transaction; None when it could not be written (the database is
        locked by another program, or full): the row then goes to the spool, not lost."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            entry_id = auditlog.insert_row(self._db, values, thumbnails)
            auditlog.prune_audit(self._db, self.max_entries)
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            self._rollback()
            if not is_busy(error):
                log.warning("audit row spooled: %s", error)
            return None
        except BaseException:
            self._rollback()
            raise
        return entry_id

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _last_seq(self) -> int:
        row = self._db.execute("SELECT seq FROM audit_spool WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def _start_draining(self) -> None:
        """Under the lock: a drain thread runs while there are spooled rows."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="veil-audit", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                drained = self._drain()
            except Exception:  # a broken file or database: keep the rows, try again later
                log.exception("writing spooled audit rows failed")
                drained = False
            delay = RETRY_FIRST_S if drained else min(delay * 2, RETRY_LONGEST_S)
            with self._lock:
                closing = self._closing
                if not self.spool.pending or (closing is not None and time.monotonic() >= closing):
                    self._thread = None
                    return
            if not drained:
                if closing is not None:
                    delay = max(0.0, min(delay, closing - time.monotonic()))
                self._wake.wait(delay)
                self._wake.clear()

    def _drain(self) -> bool:
        """Write one batch of spooled rows; False while another program holds the lock."""
        with self._db_lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if is_busy(error):
                    return False
                raise
            try:
                with self._lock:
                    lines, offset = self.spool.read(BATCH)
                done = self._last_seq()
                for line in lines:
                    # A line an earlier drain wrote, just before a crash, is not written twice.
                    if line is not None and line.seq > done:
                        auditlog.insert_row(self._db, line.values, line.thumbnails)
                        done = line.seq
                self._db.execute(
                    "INSERT OR REPLACE INTO audit_spool (id, seq) VALUES (1, ?)", (done,)
                )
                auditlog.prune_audit(self._db, self.max_entries)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        with self._lock:
            self.spool.consumed(len(lines), offset)
        return True
