"""proxy/audit.py and proxy/auditlog.py: every view of an audit entry comes from one record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batch.files import PhotoReport
from filters import ProtectionRecord
from filters.record import fields_of
from proxy.audit import AuditEntry, UploadFacts
from proxy.openapi import openapi_spec
from proxy.store import Store
from tests.conftest import a_record

RECORD = [f for f in fields_of(ProtectionRecord) if f.kind != "thumbnail"]
THUMBNAILS = [
    f.name.removeprefix("thumb_") for f in fields_of(ProtectionRecord) if f.kind == "thumbnail"
]
OWN = [f.name for f in fields_of(UploadFacts)]
SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "string": "TEXT", "strings": "TEXT"}
JSON_TYPES = {"integer": "integer", "number": "number", "string": "string", "strings": "array"}


def test_the_table_the_api_schema_and_the_reports_come_from_the_record(tmp_path: Path) -> None:
    Store.open(tmp_path / "veil.db", seed_defaults=False).close()
    raw = sqlite3.connect(tmp_path / "veil.db")
    table = [(row[1], row[2]) for row in raw.execute("PRAGMA table_info(audit)")]
    kinds = {
        row[0] for row in raw.execute("SELECT sql FROM sqlite_master WHERE name = 'thumbnails'")
    }
    raw.close()
    # The SQL columns: the entry's own, then exactly the record's, typed by its fields; last
    # the row's link in the hash chain (proxy.auditchain).
    names = [name for name, _ in table]
    assert names == ["id", "time", *OWN, *(f.name for f in RECORD), "chain"]
    assert dict(table[-len(RECORD) - 1 : -1]) == {f.name: SQL_TYPES[f.kind] for f in RECORD}
    assert all(f"'{kind}'" in next(iter(kinds)) for kind in THUMBNAILS)

    # The OpenAPI schema of an entry: the same fields, with the record's types and docs.
    schema = openapi_spec("0", 8351, 200)["components"]["schemas"]["AuditEntry"]
    properties = schema["properties"]
    assert list(properties) == [
        "id",
        "time",
        *OWN,
        *(f.name for f in RECORD),
        "has_thumbnails",
        "thumbnails",
    ]
    for field in RECORD:
        described = properties[field.name]
        assert JSON_TYPES[field.kind] in described["type"], field.name
        assert described["description"] == field.doc and field.doc
    assert properties["thumbnails"]["items"]["enum"] == THUMBNAILS

    # What the API serves, and the batch report: flat, with the record's fields.
    entry = AuditEntry("a.example", "POST", "/up", None, [], None, "protected", record=a_record())
    assert list(entry.to_dict()) == list(properties)
    report = PhotoReport("a.jpg", record=a_record()).to_dict()
    assert {f.name for f in RECORD} <= set(report)
    assert report["label_after"] == a_record().label_after


def test_an_entry_without_a_record_shows_empty_figures() -> None:
    entry = AuditEntry("a.example", "POST", "/up", "*.a.example", ["pfgsm"], "low", "blocked")
    shown = entry.to_dict()
    assert all(shown[f.name] == ([] if f.kind == "strings" else None) for f in RECORD)
    assert shown["has_thumbnails"] is False and shown["thumbnails"] == []
