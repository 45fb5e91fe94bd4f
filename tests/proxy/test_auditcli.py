"""The audit's hash chain (proxy/auditchain.py) through `veil audit verify` and `veil audit
export` (proxy/auditcli.py), run as a user would, on a real home folder."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.store import AuditEntry, Store
from tests.conftest import REPO, a_record

ROWS = 6


def veil(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "veil", "--home", str(home), "audit", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def fill(home: Path, rows: int = ROWS, keep: int = 100) -> None:
    store = Store.open(home / "veil.db", seed_defaults=False, max_audit_entries=keep)
    for number in range(rows):
        record = a_record(psnr=float("inf"), thumb_before=b"\xff\xd8\xff") if number % 2 else None
        outcome = "protected" if record else "blocked"
        store.add_audit(
            AuditEntry("a.example", "POST", f"/up/{number}", "a.example", ["metadata"], "subtle",
                       outcome, reason=None if record else "failed", record=record)
        )  # fmt: skip
    store.close()


def by_hand(home: Path, sql: str) -> None:
    """What someone with the file and the sqlite3 shell could do."""
    raw = sqlite3.connect(home / "veil.db")
    raw.execute(sql)
    raw.commit()
    raw.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    fill(home)
    return home


def test_an_untouched_audit_verifies(home: Path) -> None:
    result = veil(home, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"intact: {ROWS} rows, head " in result.stdout


def test_a_row_edited_by_hand_breaks_the_chain_there(home: Path) -> None:
    by_hand(home, "UPDATE audit SET outcome = 'passed' WHERE id = 3")
    result = veil(home, "verify")
    assert result.returncode == 1 and "broken at row 3" in result.stdout


def test_a_row_deleted_by_hand_breaks_the_chain_at_the_next(home: Path) -> None:
    by_hand(home, "DELETE FROM audit WHERE id = 3")
    result = veil(home, "verify")
    assert result.returncode == 1 and "broken at row 4" in result.stdout


def test_the_oldest_row_deleted_by_hand_is_seen_too(home: Path) -> None:
    by_hand(home, "DELETE FROM audit WHERE id = 1")
    assert "broken at row 2" in veil(home, "verify").stdout


def test_pruning_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    fill(tmp_path, rows=9, keep=4)
    result = veil(tmp_path, "verify")
    assert result.returncode == 0 and "intact: 4 rows" in result.stdout, result.stdout
    by_hand(tmp_path, "DELETE FROM audit WHERE id = 6")  # the oldest kept row
    assert "broken at row 7" in veil(tmp_path, "verify").stdout


def test_rows_of_an_older_file_are_chained_when_it_is_opened(tmp_path: Path) -> None:
    fill(tmp_path, rows=3)
    raw = sqlite3.connect(tmp_path / "veil.db")  # as version 4 left it: no chain, no anchor
    raw.executescript(
        "DROP TABLE audit_anchor; DROP TABLE audit_spool; ALTER TABLE audit DROP COLUMN chain; "
        "PRAGMA user_version = 4;"
    )
    raw.close()
    assert veil(tmp_path, "verify").returncode == 2  # no chain yet: an error, not "broken"
    Store.open(tmp_path / "veil.db").close()
    assert "intact: 3 rows" in veil(tmp_path, "verify").stdout


def test_export_json_and_csv_without_thumbnails(home: Path, tmp_path: Path) -> None:
    result = veil(home, "export")  # json to standard output by default
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["path"] for row in rows] == [f"/up/{n}" for n in range(ROWS)]
    assert rows[1]["filters"] == ["metadata"] and rows[1]["psnr"] is None  # infinity has no JSON
    assert all(len(row["chain"]) == 64 for row in rows)
    assert not any("thumb" in name for name in rows[0])
    out = tmp_path / "audit.csv"
    assert veil(home, "export", "--format", "csv", "--output", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    table = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["id"] for row in table] == [str(row["id"]) for row in rows]
    assert table[0]["outcome"] == "blocked" and json.loads(table[0]["filters"]) == ["metadata"]


def test_a_missing_audit_is_an_error(tmp_path: Path) -> None:
    result = veil(tmp_path / "nowhere", "verify")
    assert result.returncode == 2 and "no audit" in result.stderr
