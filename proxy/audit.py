"""The audit log's entries: one per image upload Veil saw, with the record of what protecting
it measured. Their columns are derived from the fields of the two dataclasses; the SQL that
stores them is ``proxy.auditlog``, and ``proxy.store.Store`` is what the rest of Veil calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from filters import ProtectionRecord
from filters.record import fields_of

__all__ = [
    "COLUMNS",
    "MAX_AUDIT_ENTRIES",
    "MAX_TEXT",
    "OUTCOMES",
    "RECORD_COLUMNS",
    "THUMBNAIL_KINDS",
    "UPLOAD_COLUMNS",
    "AuditEntry",
    "StoreBusy",
    "StoreError",
    "UploadFacts",
    "utc_now",
]

# The audit log keeps at most this many uploads (with thumbnails, a few hundred MB at worst).
MAX_AUDIT_ENTRIES = 10_000
# Long paths and error texts are cut here: the log is for people, and must stay small.
MAX_TEXT = 2_000
OUTCOMES = ("protected", "passed", "blocked")


class StoreError(ValueError):
    """The database or a value given to it is unusable; the message says why.

    Defined here, in the lowest of the database modules; ``proxy.store`` re-exports it.
    """


class StoreBusy(StoreError):
    """Another program holds the database's lock: the call may succeed a moment later."""


def utc_now() -> str:
    """ISO-8601 UTC time with milliseconds, e.g. 2026-06-01T12:34:56.789Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class UploadFacts:
    """Where an image was going and what Veil decided: the audit's own columns."""

    site: str = field(metadata={"doc": "The host the upload went to."})
    method: str = field(metadata={"doc": "The request's method."})
    path: str = field(metadata={"doc": "Request path without its query string."})
    policy_site: str | None = field(metadata={"doc": "The policy that covered the host."})
    filters: list[str] = field(metadata={"doc": "The policy's filters, in order."})
    strength: str | None = field(metadata={"doc": "The policy's strength."})
    outcome: str = field(metadata={"doc": "protected, passed or blocked."})
    reason: str | None = field(default=None, metadata={"doc": "Why blocked or passed."})
    filename: str | None = field(default=None, metadata={"doc": "The file name announced."})
    field_name: str | None = field(default=None, metadata={"doc": "The form field or JSON key."})
    format: str | None = field(default=None, metadata={"doc": "The format read from its bytes."})
    faces: str | None = field(
        default=None, metadata={"doc": "The policy's choice of whose faces face filters change."}
    )
    faces_found: list[str] = field(
        default_factory=list,
        metadata={
            "doc": "The faces the first face filter found, each x,y,w,h as fractions of the "
            "photo shown upright, as the thumbnails show it."
        },
    )
    faces_changed: int | None = field(
        default=None,
        metadata={"doc": "How many of them it blurred, pixelated or cloaked; none without one."},
    )
    upstream_status: int | None = field(
        default=None,
        metadata={
            "doc": "The HTTP status the site answered the upload with; none when it never "
            "answered (see upstream_error) or the upload never left."
        },
    )
    delivered: bool | None = field(
        default=None,
        metadata={
            "doc": "Whether the site answered the upload (any status): false when it was "
            "blocked or the site never answered; none on rows from before Veil recorded it."
        },
    )
    upstream_error: str | None = field(
        default=None,
        metadata={
            "doc": "Why the site never answered: no connection, a timeout, the client gave "
            "up, Veil stopped."
        },
    )

    def __post_init__(self) -> None:
        # Without the query string, which may carry tokens.
        self.path = self.path.split("?", 1)[0].split("#", 1)[0]


@dataclass
class AuditEntry(UploadFacts):
    """One image upload that Veil saw, what it did with it, and ``record``: what protecting
    it measured (None when it was blocked or passed). ``id`` and ``time`` come from the store;
    ``thumbnails`` names the thumbnails it holds, for entries read back without their bytes."""

    record: ProtectionRecord | None = None
    id: int | None = None
    time: str | None = None
    thumbnails: tuple[str, ...] = ()

    @property
    def has_thumbnails(self) -> bool:
        return bool(self.thumbnails) or any(self.thumbnail(kind) for kind in THUMBNAIL_KINDS)

    def thumbnail(self, kind: str) -> bytes | None:
        """The thumbnail bytes of ``kind`` ("before" or "after") this entry carries, if any."""
        return (getattr(self.record, f"thumb_{kind}") or None) if self.record else None

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly and flat: the record's fields stand beside the entry's own; no
        thumbnail bytes, and no NaN or infinity (JSON has neither)."""
        data: dict[str, object] = {"id": self.id, "time": self.time}
        data |= {column.name: getattr(self, column.name) for column in UPLOAD_COLUMNS}
        if self.record is not None:
            data |= self.record.values()
        else:
            data |= {c.name: [] if c.kind == "strings" else None for c in RECORD_COLUMNS}
        for column in COLUMNS:
            value = data[column.name]
            if column.kind == "strings":
                data[column.name] = list(value or [])  # type: ignore[call-overload]
            elif column.kind == "number" and value is not None and not math.isfinite(value):  # type: ignore[arg-type]
                data[column.name] = None
        kinds = [
            kind for kind in THUMBNAIL_KINDS if kind in self.thumbnails or self.thumbnail(kind)
        ]
        data.update(has_thumbnails=bool(kinds), thumbnails=kinds)
        return data


# The columns, each derived from a field: the entry's own, then the protection record's.
UPLOAD_COLUMNS = fields_of(UploadFacts)
RECORD_COLUMNS = tuple(f for f in fields_of(ProtectionRecord) if f.kind != "thumbnail")
COLUMNS = UPLOAD_COLUMNS + RECORD_COLUMNS
# Thumbnails live in a table of their own, one row per kind: thumb_before -> "before".
THUMBNAIL_KINDS = tuple(
    f.name.removeprefix("thumb_") for f in fields_of(ProtectionRecord) if f.kind == "thumbnail"
)
