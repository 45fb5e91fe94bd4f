"""proxy/auditwriter.py and proxy/auditspool.py on a real file: audit rows while another
program holds the database's write lock, and rows a crash left in the spool."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy import auditchain
from proxy.auditspool import spool_path
from proxy.store import AuditEntry, Store, StoreBusy
from tests.conftest import REPO, a_record

ROWS = 50
# add_audit runs on the event loop: it must never wait for the lock.
NO_WAIT_S = 0.1


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "veil.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    opened = Store.open(db_path, seed_defaults=False)
    yield opened
    opened.close()


def entry(number: int) -> AuditEntry:
    record = a_record(thumb_before=b"\xff\xd8\xff" + bytes([number]))
    return AuditEntry(
        "a.example", "POST", f"/up/{number}", None, [], None, "protected", record=record
    )


def locker(db_path: Path, mode: str) -> sqlite3.Connection:
    """Another program's connection, holding the write lock until it rolls back."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute(f"BEGIN {mode}")
    other.execute("INSERT INTO policies VALUES ('x.example', 1, '[]', 'subtle', 'block', 't', "
                  "'none', 'all')")  # fmt: skip
    return other


def chain(db_path: Path) -> auditchain.Verdict:
    raw = sqlite3.connect(db_path)
    try:
        return auditchain.verify(raw)
    finally:
        raw.close()


@pytest.mark.parametrize("mode", ["IMMEDIATE", "EXCLUSIVE"])
def test_no_row_is_lost_and_none_waits_while_the_database_is_locked(
    store: Store, db_path: Path, mode: str
) -> None:
    other = locker(db_path, mode)
    waits = []
    for number in range(ROWS):
        started = time.perf_counter()
        assert store.add_audit(entry(number)) is None  # spooled, not written
        waits.append(time.perf_counter() - started)
    assert max(waits) < NO_WAIT_S, f"add_audit waited {max(waits):.3f} s"
    assert store.audit_pending == ROWS and store.list_audit() == ([], 0)  # reads still work
    spool = spool_path(db_path)
    assert stat.S_IMODE(spool.stat().st_mode) == 0o600
    other.execute("ROLLBACK")
    other.close()
    assert store.flush_audit(5.0)
    entries, total = store.list_audit(limit=ROWS)
    assert total == ROWS and [e.path for e in reversed(entries)] == [
        f"/up/{n}" for n in range(ROWS)
    ]
    assert store.get_thumbnail(entries[0].id, "before") == b"\xff\xd8\xff" + bytes([ROWS - 1])
    assert not spool.exists()
    assert chain(db_path).broken is None and chain(db_path).rows == ROWS
    # Once drained, rows go straight to the table again.
    assert isinstance(store.add_audit(entry(ROWS)), int)


def test_close_leaves_what_it_cannot_write_in_the_spool_for_the_next_start(db_path: Path) -> None:
    store = Store.open(db_path, seed_defaults=False)
    store.add_audit(entry(0))  # written now
    other = locker(db_path, "IMMEDIATE")
    for number in range(1, 4):
        store.add_audit(entry(number))
    started = time.perf_counter()
    store.close()
    assert time.perf_counter() - started < 3.0
    assert len(spool_path(db_path).read_bytes().splitlines()) == 3
    other.execute("ROLLBACK")
    other.close()
    reopened = Store.open(db_path, seed_defaults=False)
    try:
        assert reopened.flush_audit(5.0) and reopened.list_audit()[1] == 4
    finally:
        reopened.close()
    assert chain(db_path).broken is None


CRASH = """
import os, sqlite3, sys
from pathlib import Path
from proxy.store import AuditEntry, Store, StoreBusy
db = Path(sys.argv[1])
store = Store.open(db, seed_defaults=False)
other = sqlite3.connect(db, isolation_level=None)
other.execute("BEGIN IMMEDIATE")
for number in range(5):
    store.add_audit(AuditEntry("a.example", "POST", f"/up/{number}", None, [], None, "blocked"))
os._exit(3)  # a crash: nothing closed, nothing flushed
"""


def test_a_spool_left_by_a_crash_is_written_on_the_next_start(db_path: Path) -> None:
    Store.open(db_path, seed_defaults=False).close()
    crashed = subprocess.run([sys.executable, "-c", CRASH, str(db_path)], cwd=REPO, timeout=60)
    assert crashed.returncode == 3 and spool_path(db_path).exists()
    store = Store.open(db_path, seed_defaults=False)
    try:
        assert store.flush_audit(5.0)
        entries, total = store.list_audit()
        assert total == 5 and {e.path for e in entries} == {f"/up/{n}" for n in range(5)}
    finally:
        store.close()
    assert not spool_path(db_path).exists() and chain(db_path).broken is None


def test_a_line_written_before_a_crash_is_not_written_twice(db_path: Path, tmp_path: Path) -> None:
    # The crash came after the rows' transaction and before the spool was removed.
    store = Store.open(db_path, seed_defaults=False)
    other = locker(db_path, "IMMEDIATE")
    for number in range(3):
        store.add_audit(entry(number))
    shutil.copy(spool_path(db_path), tmp_path / "kept")
    other.execute("ROLLBACK")
    other.close()
    assert store.flush_audit(5.0)
    store.close()
    shutil.copy(tmp_path / "kept", spool_path(db_path))
    reopened = Store.open(db_path, seed_defaults=False)
    try:
        assert reopened.flush_audit(5.0) and reopened.list_audit()[1] == 3
    finally:
        reopened.close()


def test_a_line_cut_short_by_a_crash_is_skipped(db_path: Path) -> None:
    Store.open(db_path, seed_defaults=False).close()
    spool_path(db_path).write_bytes(b'{"seq": 1, "row": {"si')
    store = Store.open(db_path, seed_defaults=False)
    try:
        assert store.flush_audit(5.0) and store.list_audit()[1] == 0
        assert isinstance(store.add_audit(entry(0)), int)
    finally:
        store.close()


def test_one_process_owns_the_spool(store: Store, db_path: Path) -> None:
    # A second Veil on the same file (here a second store: flock locks are per open file)
    # writes when it can, and is told so when it cannot, rather than racing the owner's drain.
    second = Store.open(db_path, seed_defaults=False)
    try:
        assert isinstance(second.add_audit(entry(0)), int)
        other = locker(db_path, "IMMEDIATE")
        with pytest.raises(StoreBusy, match="owns its spool"):
            second.add_audit(entry(1))
        assert store.add_audit(entry(2)) is None
        other.execute("ROLLBACK")
        other.close()
        assert store.flush_audit(5.0) and store.list_audit()[1] == 2
    finally:
        second.close()
