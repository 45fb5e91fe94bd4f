"""The SQLite store on a real file: schema, policies, audit log, pruning and stats."""

from __future__ import annotations

import io
import json
import sqlite3
import statistics
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filters.record import RecordField
from proxy import audit as audit_module
from proxy import auditlog
from proxy import store as store_module
from proxy.audit import MAX_TEXT
from proxy.policies import ACTIVITY_POLICIES, DEFAULT_POLICIES, Policy
from proxy.store import SCHEMA_VERSION, AuditEntry, Store, StoreError
from tests.conftest import a_record


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "veil.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    opened = Store.open(db_path, seed_defaults=False)
    yield opened
    opened.close()


@pytest.fixture
def thumbnail(photo_file: Path) -> bytes:
    image = Image.open(photo_file).convert("RGB")
    image.thumbnail((64, 64))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def entry(site: str = "photos.example.com", outcome: str = "protected", **extra) -> AuditEntry:
    """An audit entry; pass ``record=a_record(...)`` for a protected image's figures."""
    fields = {"method": "POST", "path": "/api/v2/media", "policy_site": "*.example.com"}
    fields |= {"filters": ["metadata"], "strength": "medium"} | extra
    return AuditEntry(site=site, outcome=outcome, **fields)


def test_all_matches_public_names() -> None:
    for module in (store_module, audit_module):
        assert all(hasattr(module, name) for name in module.__all__)


def test_store_re_exports_the_audit_names_callers_use() -> None:
    for name in ("AuditEntry", "StoreError", "OUTCOMES", "THUMBNAIL_KINDS", "MAX_AUDIT_ENTRIES"):
        assert getattr(store_module, name) is getattr(audit_module, name), name
        assert name in store_module.__all__


def test_new_database_has_schema_wal_and_defaults(db_path: Path) -> None:
    with_defaults = Store.open(db_path)
    assert with_defaults.list_policies() == sorted(DEFAULT_POLICIES, key=lambda p: p.site)
    with_defaults.close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_defaults_are_seeded_once_so_deletions_stick(db_path: Path) -> None:
    first = Store.open(db_path)
    assert first.delete_policy("*.imgur.com")
    first.close()
    again = Store.open(db_path)
    assert again.get_policy("*.imgur.com") is None
    assert len(again.list_policies()) == len(DEFAULT_POLICIES) - 1
    again.close()


def test_refuses_newer_schema_and_foreign_files(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    raw = sqlite3.connect(newer)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreError, match="schema version"):
        Store.open(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        Store.open(junk)


def test_policy_crud_and_lookup(store: Store, db_path: Path) -> None:
    assert store.list_policies() == []
    wide = Policy("*.example.com")
    assert store.put_policy(wide) is True
    assert store.put_policy(Policy("*.example.com", strength="high")) is False
    assert store.get_policy("*.EXAMPLE.com.") == Policy("*.example.com", strength="high")
    off = Policy("cdn.example.com", enabled=False, filters=("metadata",))
    store.put_policy(off)
    assert store.policy_for_host("cdn.example.com") == off
    assert store.policy_for_host("www.example.com").site == "*.example.com"
    assert store.policy_for_host("example.org") is None
    assert store.protected_sites() == ["*.example.com"]
    assert store.delete_policy("cdn.example.com") is True
    assert store.delete_policy("cdn.example.com") is False
    store.close()
    reopened = Store.open(db_path)
    assert reopened.list_policies() == [Policy("*.example.com", strength="high")]
    reopened.close()


def test_a_stored_policy_refused_today_is_skipped_not_fatal(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row written before a rule change (here a public-suffix wildcard) cannot stop Veil."""
    Store.open(db_path, seed_defaults=False).close()
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO policies (site, enabled, filters, strength, on_failure, updated) "
        "VALUES (?, 1, ?, 'medium', 'block', 'then')",
        ("*.co.uk", json.dumps(["metadata"])),
    )
    raw.commit()
    raw.close()
    store = Store.open(db_path)
    store.put_policy(Policy("*.example.co.uk"))
    with caplog.at_level("WARNING", logger="proxy.store"):
        assert store.list_policies() == [Policy("*.example.co.uk")]
    assert "'*.co.uk' is unusable" in caplog.text and "public suffix" in caplog.text
    assert store.policy_for_host("www.bbc.co.uk") is None
    assert store.protected_sites() == ["*.example.co.uk"]
    store.close()


def test_policy_lookups_reject_bad_sites(store: Store) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        store.get_policy("*")
    with pytest.raises(ValueError, match="port"):
        store.delete_policy("example.com:443")
    with pytest.raises(ValueError, match="public suffix"):
        store.get_policy("*.co.uk")


def test_audit_round_trip(store: Store, thumbnail: bytes) -> None:
    new = entry(
        path="/api/v2/media?access_token=SECRET#frag",
        filename="IMG_0001.jpg",
        field_name="file",
        format="JPEG",
        record=a_record(
            size_before=1234,
            size_after=1000,
            metadata_removed=["GPS", "Make"],
            confidence_before=np.float32(0.75),
            ssim=np.float64(0.97),
            psnr=float("inf"),
            elapsed_ms=12.5,
            thumb_before=thumbnail,
        ),
    )
    entry_id = store.add_audit(new)
    assert entry_id == new.id and entry_id > 0
    assert datetime.fromisoformat(new.time).utcoffset().total_seconds() == 0
    got = store.get_audit(entry_id)
    assert got.path == "/api/v2/media"
    assert got.thumbnail("before") == thumbnail and got.thumbnail("after") is None
    assert got.record.metadata_removed == ["GPS", "Make"] and got.record.size_before == 1234
    assert got.record.confidence_before == pytest.approx(0.75) and got.record.width == 320
    data = got.to_dict()
    assert data["has_thumbnails"] is True and data["thumbnails"] == ["before"]
    assert "thumb_before" not in data and data["psnr"] is None
    json.dumps(data, allow_nan=False)  # strictly valid JSON
    assert store.get_thumbnail(entry_id, "before") == thumbnail
    assert store.get_thumbnail(entry_id, "after") is None
    assert store.get_audit(entry_id + 1) is None


def test_what_the_face_filters_found_is_audited(store: Store) -> None:
    found = ["0.1,0.2,0.3,0.4", "0.5,0.5,0.1,0.125"]
    faced = entry(faces="bystanders", faces_found=found, faces_changed=1, record=a_record())
    plain = entry(outcome="blocked", reason="failed")
    store.add_audit(faced)
    store.add_audit(plain)
    got = store.get_audit(faced.id)
    assert (got.faces, got.faces_found, got.faces_changed) == ("bystanders", found, 1)
    assert got.to_dict()["faces_found"] == found and got.to_dict()["faces_changed"] == 1
    blocked = store.get_audit(plain.id)
    assert (blocked.faces, blocked.faces_found, blocked.faces_changed) == (None, [], None)


def test_audit_entry_strips_query_itself() -> None:
    assert entry(path="/upload?sig=abc").path == "/upload"


def test_audit_rejects_bad_values(store: Store) -> None:
    with pytest.raises(StoreError, match="outcome"):
        store.add_audit(entry(outcome="maybe"))
    with pytest.raises(StoreError, match="which"):
        store.get_thumbnail(1, "middle")
    with pytest.raises(StoreError, match="negative"):
        store.list_audit(offset=-1)
    assert store.list_audit() == ([], 0)


def test_long_texts_are_cut(store: Store) -> None:
    store.add_audit(entry(outcome="blocked", reason="x" * (MAX_TEXT * 5)))
    [got], _ = store.list_audit()
    assert len(got.reason) == MAX_TEXT


def test_list_audit_pages_newest_first_and_filters_by_site(store: Store, thumbnail: bytes) -> None:
    sites = ["a.example.com", "example.com", "b.example.com", "example.org", "a.example.com"]
    ids = [store.add_audit(entry(site, record=a_record(thumb_after=thumbnail))) for site in sites]
    page, total = store.list_audit(limit=2, offset=1)
    assert total == 5 and [e.id for e in page] == [ids[3], ids[2]]
    assert all(e.thumbnail("after") is None and e.has_thumbnails for e in page)  # no bytes
    exact, total = store.list_audit("a.example.com")
    assert total == 2 and [e.id for e in exact] == [ids[4], ids[0]]
    wild, total = store.list_audit("*.example.com")
    assert total == 4 and {e.site for e in wild} == {
        "a.example.com",
        "b.example.com",
        "example.com",
    }
    assert store.list_audit("example.net") == ([], 0)
    assert store.list_audit(offset=10)[0] == []


def test_prune_keeps_newest_entries_and_their_thumbnails(db_path: Path, thumbnail: bytes) -> None:
    small = Store.open(db_path, seed_defaults=False, max_audit_entries=3)
    ids = [small.add_audit(entry(record=a_record(thumb_before=thumbnail))) for _ in range(7)]
    items, total = small.list_audit()
    assert total == 3 and [e.id for e in items] == ids[:-4:-1]
    assert small.get_thumbnail(ids[0], "before") is None
    assert small.get_thumbnail(ids[-1], "before") == thumbnail
    small.close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT count(*) FROM thumbnails").fetchone()[0] == 3
    raw.close()


def test_stats_summarise_the_log(store: Store) -> None:
    empty = store.stats()
    assert empty["total"] == 0 and empty["median_elapsed_ms"] is None
    assert empty["last_upload"] is None and empty["by_outcome"]["blocked"] == 0
    made = [
        entry("a.example.com", record=a_record(size_before=1000, size_after=900, elapsed_ms=40.0,
              metadata_removed=["GPS", "Make"])),
        entry("a.example.com", record=a_record(size_before=3000, size_after=2500, elapsed_ms=10.0,
              metadata_removed=["GPS"])),
        entry("b.example.com", outcome="blocked", reason="filter failed"),
        entry("a.example.com", outcome="passed", reason="not an image"),
        entry("c.example.com", record=a_record(size_before=50, size_after=60, elapsed_ms=25.0,
              metadata_removed=["XMP"])),
    ]  # fmt: skip
    for item in made:
        store.add_audit(item)
    stats = store.stats()
    assert stats["total"] == len(made)
    assert stats["by_outcome"] == {
        outcome: sum(e.outcome == outcome for e in made)
        for outcome in ("protected", "passed", "blocked")
    }
    records = [e.record for e in made if e.record is not None]
    assert stats["bytes_before"] == sum(r.size_before for r in records)
    assert stats["bytes_after"] == sum(r.size_after for r in records)
    times = [r.elapsed_ms for r in records]
    assert stats["median_elapsed_ms"] == pytest.approx(statistics.median(times))
    store.add_audit(entry("d.example.com", record=a_record(elapsed_ms=1000.0)))
    assert store.stats()["median_elapsed_ms"] == pytest.approx(statistics.median([*times, 1000]))
    assert stats["metadata_removed"] == {"GPS": 2, "Make": 1, "XMP": 1}
    assert stats["sites"][0] == {
        "site": "a.example.com", "total": 3, "protected": 2, "passed": 1, "blocked": 0
    }  # fmt: skip
    assert [s["site"] for s in stats["sites"]] == [
        "a.example.com",
        "b.example.com",
        "c.example.com",
    ]
    assert stats["last_upload"] == made[-1].time


def test_a_version_1_database_gains_the_profile_column(db_path: Path) -> None:
    """Files written before policies had a platform profile open with the default one."""
    raw = sqlite3.connect(db_path)
    raw.executescript(
        "CREATE TABLE policies (site TEXT PRIMARY KEY, enabled INTEGER NOT NULL, "
        "filters TEXT NOT NULL, strength TEXT NOT NULL, on_failure TEXT NOT NULL, "
        "updated TEXT NOT NULL);"
        "INSERT INTO policies VALUES ('photos.example.com', 1, '[\"metadata\"]', 'low', "
        "'block', 'then');" + VERSION_1_AUDIT + "PRAGMA user_version = 1;"
    )
    raw.close()
    store = Store.open(db_path)
    assert _kept(store) == [
        Policy("photos.example.com", filters=("metadata",), strength="low", profile="facebook")
    ]
    store.put_policy(Policy("photos.example.com", profile="instagram"))
    assert store.get_policy("photos.example.com").profile == "instagram"
    store.close()


# The audit tables exactly as schema versions 1 and 2 wrote them (before the columns were
# derived from the protection record).
VERSION_1_AUDIT = """
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
CREATE TABLE thumbnails (
    audit_id INTEGER NOT NULL REFERENCES audit (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('before', 'after')),
    data BLOB NOT NULL,
    PRIMARY KEY (audit_id, kind)
);
"""

# The policies table of schema version 2 (before the strengths were renamed).
VERSION_2_POLICIES = (
    "CREATE TABLE policies (site TEXT PRIMARY KEY, enabled INTEGER NOT NULL, "
    "filters TEXT NOT NULL, strength TEXT NOT NULL, on_failure TEXT NOT NULL, "
    "updated TEXT NOT NULL, profile TEXT NOT NULL DEFAULT 'facebook');"
)


def test_an_audit_written_before_the_record_reads_back_and_takes_new_rows(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.executescript(
        VERSION_2_POLICIES
        + VERSION_1_AUDIT
        + "INSERT INTO audit (time, site, method, path, filters, outcome, metadata_removed, "
        "size_before, size_after, width, height, label_before, elapsed_ms) VALUES "
        "('2026-06-01T12:00:00.000Z', 'a.example.com', 'POST', '/up', '[\"metadata\"]', "
        "'protected', '[\"GPS\"]', 100, 90, 8, 6, 'hen', 12.5);"
        "INSERT INTO audit (time, site, method, path, filters, outcome, reason, "
        "metadata_removed) VALUES ('2026-06-01T12:00:01.000Z', 'a.example.com', 'POST', '/up', "
        "'[]', 'blocked', 'failed', '[]');"
        "PRAGMA user_version = 2;"
    )
    raw.close()
    store = Store.open(db_path)
    (blocked, protected), total = store.list_audit()
    assert total == 2 and blocked.record is None and blocked.reason == "failed"
    assert protected.record is not None and protected.record.size_before == 100
    assert protected.record.metadata_removed == ["GPS"] and protected.record.ssim is None
    store.add_audit(entry(record=a_record(thumb_after=b"\xff\xd8\xff")))
    assert store.list_audit()[1] == 3
    store.close()


def test_a_field_added_to_the_record_becomes_a_column_of_old_files(db_path, monkeypatch) -> None:
    """A new measurement is one new field: files made before it gain its column on opening."""
    Store.open(db_path, seed_defaults=False).close()
    extra = RecordField("glare", "number", nullable=True, doc="made up for this test")
    monkeypatch.setattr(auditlog, "COLUMNS", (*auditlog.COLUMNS, extra))
    assert [c.name for c in auditlog.missing_columns(sqlite3.connect(db_path))] == ["glare"]
    Store.open(db_path, seed_defaults=False).close()
    raw = sqlite3.connect(db_path)
    assert "glare" in {row[1] for row in raw.execute("PRAGMA table_info(audit)")}
    raw.close()


def test_policies_stored_with_the_old_strength_names_survive_the_upgrade(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.executescript(
        VERSION_2_POLICIES
        + VERSION_1_AUDIT
        + "INSERT INTO policies VALUES ('a.example.com', 1, '[\"metadata\"]', 'low', 'block', "
        "'then', 'facebook'), ('b.example.com', 0, '[\"pfgsm\"]', 'medium', 'send_original', "
        "'then', 'instagram'), ('*.c.example.com', 1, '[\"metadata\", \"pfgsm\"]', 'high', "
        "'block', 'then', 'none');"
        "PRAGMA user_version = 2;"
    )
    raw.close()
    store = Store.open(db_path)
    policies = {policy.site: policy for policy in _kept(store)}
    assert {site: policy.strength for site, policy in policies.items()} == {
        "a.example.com": "invisible",
        "b.example.com": "invisible",
        "*.c.example.com": "strong",
    }
    # Nothing else of them changed, and only the activity sites (new in version 6) were added.
    assert policies["b.example.com"] == Policy(
        "b.example.com", False, ("pfgsm",), "invisible", "send_original", "instagram"
    )
    store.close()
    raw = sqlite3.connect(db_path)
    assert {row[0] for row in raw.execute("SELECT strength FROM policies")} == {
        "invisible",
        "strong",
    }
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    raw.close()


def test_a_version_3_database_keeps_every_policy_and_gains_whose_faces(db_path: Path) -> None:
    """Files written before policies said whose faces: every policy kept, all faces."""
    raw = sqlite3.connect(db_path)
    raw.executescript(
        VERSION_2_POLICIES
        + VERSION_1_AUDIT
        + "INSERT INTO policies VALUES ('a.example.com', 1, '[\"metadata\"]', 'invisible', "
        "'block', 'then', 'facebook'), ('b.example.com', 0, '[\"faces-blur\"]', 'strong', "
        "'send_original', 'then', 'instagram'), ('*.c.example.com', 1, "
        "'[\"metadata\", \"faces-cloak\"]', 'subtle', 'block', 'then', 'none');"
        "PRAGMA user_version = 3;"
    )
    raw.close()
    store = Store.open(db_path)
    assert _kept(store) == [
        Policy("*.c.example.com", True, ("metadata", "faces-cloak"), "subtle", "block", "none"),
        Policy("a.example.com", True, ("metadata",), "invisible", "block", "facebook"),
        Policy("b.example.com", False, ("faces-blur",), "strong", "send_original", "instagram"),
    ]
    assert {policy.faces for policy in _kept(store)} == {"all"}
    store.put_policy(Policy("b.example.com", filters=("faces-blur",), faces="bystanders"))
    store.close()
    reopened = Store.open(db_path)
    assert reopened.get_policy("b.example.com").faces == "bystanders"
    assert reopened.get_policy("a.example.com").faces == "all"
    reopened.close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


@pytest.mark.parametrize("whose", ["all", "bystanders", "none"])
def test_whose_faces_is_stored(store: Store, db_path: Path, whose: str) -> None:
    store.put_policy(Policy("photos.example.com", filters=("faces-pixelate",), faces=whose))
    store.close()
    reopened = Store.open(db_path)
    assert reopened.get_policy("photos.example.com") == Policy(
        "photos.example.com", filters=("faces-pixelate",), faces=whose
    )
    reopened.close()


def _kept(store: Store) -> list[Policy]:
    """The policies an old file held, without the activity sites its upgrade added."""
    added = {policy.site for policy in ACTIVITY_POLICIES}
    return [policy for policy in store.list_policies() if policy.site not in added]


def test_an_upgraded_file_gains_the_activity_sites_but_keeps_the_users_own(db_path: Path) -> None:
    store = Store.open(db_path)
    store.put_policy(Policy("*.strava.com", filters=("metadata",), enabled=False))
    store._db.execute("PRAGMA user_version = 5")  # as a version 5 file was
    store._db.execute("DROP TABLE preferences")
    store._db.execute("DELETE FROM policies WHERE site = '*.garmin.com'")
    store.close()
    upgraded = Store.open(db_path)
    assert upgraded.get_policy("*.strava.com") == Policy(
        "*.strava.com", filters=("metadata",), enabled=False
    )
    assert upgraded.get_policy("*.garmin.com") == next(
        p for p in ACTIVITY_POLICIES if p.site == "*.garmin.com"
    )
    assert upgraded.get_zones().zones == ()
    upgraded.close()
