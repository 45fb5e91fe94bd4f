"""The control API's OpenAPI 3.1 description, served at /api/v1/openapi.json.

Tests hold it to the app: same routes and methods, and real responses valid against it."""

from __future__ import annotations

from typing import Any

from activities import ACTIVITY_FILTERS
from activities.track import START_TIMES
from activities.zones import DEFAULT_ZONE_STRENGTH, ZONE_STRENGTHS
from certs.keeper import TRUST_FIELD as _TRUST
from filters import DEFAULT_FACES, FILTERS, PROFILES, STRENGTHS, WHOSE_FACES
from filters.record import RecordField
from proxy.apipaths import PAIR_PATH, SITE_SCHEMA, operations
from proxy.apipaths import ref as _ref
from proxy.audit import OUTCOMES, RECORD_COLUMNS, THUMBNAIL_KINDS, UPLOAD_COLUMNS
from proxy.policies import FAILURE_ACTIONS, MAX_FILTERS
from proxy.zones import MAX_NAME as MAX_ZONE_NAME
from proxy.zones import MAX_ZONES
from proxy.zones import NAME_PATTERN as ZONE_NAME_PATTERN

__all__ = ["API_PREFIX", "PAIR_PATH", "column_schema", "openapi_spec"]

API_PREFIX = "/api/v1"

_STRING_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: every property required unless a list is given."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


_POLICY_FIELDS: dict[str, Any] = {
    "site": {
        **SITE_SCHEMA,
        "description": "Exact host (photos.example.com) or *.example.com: the domain and its "
        "subdomains (a wildcard over a public suffix such as *.co.uk is refused).",
    },
    "enabled": {"type": "boolean"},
    "filters": {
        "type": "array",
        "items": {"type": "string", "enum": [*FILTERS, *ACTIVITY_FILTERS]},
        "minItems": 1,
        "maxItems": MAX_FILTERS,
        "uniqueItems": True,
        "description": "Filter names, applied in order.",
    },
    "strength": {"type": "string", "enum": list(STRENGTHS)},
    "on_failure": {
        "type": "string",
        "enum": list(FAILURE_ACTIONS),
        "description": "When protection fails: block the upload, or send the original.",
    },
    "profile": {
        "type": "string",
        "enum": list(PROFILES),
        "description": "The platform recompression the adversarial filters are made to survive.",
    },
    "faces": {
        "type": "string",
        "enum": list(WHOSE_FACES),
        "default": DEFAULT_FACES,
        "description": "Whose faces the face filters change: all, bystanders (every face but "
        "the largest, the photo's subject) or none (the face filters then change nothing).",
    },
}

_KIND_SCHEMAS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "strings": _STRINGS,
}


def column_schema(column: RecordField, nullable: bool) -> dict[str, Any]:
    """The JSON schema of one audit column, from its field's kind and doc.

    >>> column_schema(RECORD_COLUMNS[0], nullable=True)["type"]
    ['string', 'null']
    """
    schema = dict(_KIND_SCHEMAS[column.kind])
    if nullable and column.kind != "strings":  # lists come as [] when empty
        schema["type"] = [schema["type"], "null"]
    if column.name == "outcome":
        schema["enum"] = list(OUTCOMES)
    if column.doc:
        schema["description"] = column.doc
    return schema


# An audit entry as the API shows it: its own columns, then its record's (null on entries
# that were blocked or passed), both derived from the dataclasses' fields.
_AUDIT_FIELDS: dict[str, Any] = {
    "id": {"type": "integer"},
    "time": {"type": "string", "format": "date-time"},
    **{c.name: column_schema(c, nullable=c.nullable) for c in UPLOAD_COLUMNS},
    **{c.name: column_schema(c, nullable=True) for c in RECORD_COLUMNS},
    "has_thumbnails": {"type": "boolean"},
    "thumbnails": {"type": "array", "items": {"type": "string", "enum": list(THUMBNAIL_KINDS)}},
}

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}

_SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": {"type": "string"}}),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok"]},
            "version": {"type": "string"},
            "keep_originals": {
                "type": "boolean",
                "description": "Whether each upload's original is kept, encrypted.",
            },
            **_TRUST,
        },
        required=["status", "version", "keep_originals"],
    ),
    "Zone": _object(
        {
            "name": {"type": "string", "pattern": ZONE_NAME_PATTERN, "maxLength": MAX_ZONE_NAME},
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            "radius_m": {"type": "number", "minimum": 50, "maximum": 50000, "default": 500},
            "strength": {
                "type": "string",
                "enum": list(ZONE_STRENGTHS),
                "default": DEFAULT_ZONE_STRENGTH,
                "description": "How far the hidden area reaches beyond the zone: further hides "
                "more of each track and keeps many tracks together further from the zone.",
            },
        },
        required=["name", "latitude", "longitude"],
    ),
    "Zones": _object(
        {
            "zones": {"type": "array", "items": _ref("Zone"), "maxItems": MAX_ZONES},
            "start_time": {
                "type": "string",
                "enum": list(START_TIMES),
                "default": "minute",
                "description": "To what an activity's start time is coarsened.",
            },
        },
        required=["zones"],
    ),
    "PairRequest": _object(
        {"code": {"type": "string", "description": "The pairing code `veil run` printed."}}
    ),
    "Paired": _object(
        {
            "token": {"type": "string", "description": "The bearer token for every other call."},
            "proxy_port": {**_INT_OR_NULL, "description": "Where to send protected sites."},
            "version": {"type": "string"},
        }
    ),
    "Policy": _object(_POLICY_FIELDS),
    # The site comes from the path (a body may repeat it, the same, for older clients).
    "PolicyInput": _object({k: v for k, v in _POLICY_FIELDS.items() if k != "site"}, []),
    "PolicyList": _object({"items": {"type": "array", "items": _ref("Policy")}}),
    "Filter": _object({"name": {"type": "string"}, "description": {"type": "string"}}),
    "FilterList": _object({"items": {"type": "array", "items": _ref("Filter")}}),
    "Strength": _object(
        {
            "name": {"type": "string", "enum": list(STRENGTHS)},
            "description": {"type": "string", "description": "What it costs and what it buys."},
            "default": {"type": "boolean"},
            "replaces": {
                **_STRINGS,
                "description": "Older names of this strength, still accepted in policies.",
            },
        }
    ),
    "StrengthList": _object({"items": {"type": "array", "items": _ref("Strength")}}),
    "AuditEntry": _object(_AUDIT_FIELDS),
    "AuditPage": _object(
        {
            "items": {"type": "array", "items": _ref("AuditEntry")},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "offset": {"type": "integer", "minimum": 0},
        }
    ),
    "SiteStats": _object(
        {
            "site": {"type": "string"},
            **{name: {"type": "integer", "minimum": 0} for name in ("total", *OUTCOMES)},
        }
    ),
    "Stats": _object(
        {
            "total": {"type": "integer", "minimum": 0},
            "by_outcome": _object({name: {"type": "integer", "minimum": 0} for name in OUTCOMES}),
            "sites": {"type": "array", "items": _ref("SiteStats")},
            "bytes_before": {"type": "integer", "minimum": 0},
            "bytes_after": {"type": "integer", "minimum": 0},
            "median_elapsed_ms": _NUMBER_OR_NULL,
            "metadata_removed": {**_COUNTS, "description": "How often each field was removed."},
            "last_upload": {**_STRING_OR_NULL, "format": "date-time"},
        }
    ),
    "OpenApi": {"type": "object", "description": "This document."},
}


def openapi_spec(version: str, port: int, max_page: int) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server on 127.0.0.1:port."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Veil control API",
            "version": version,
            "description": "Local control of Veil's site policies and audit log. Every call needs "
            "the bearer token; the Host must be 127.0.0.1, localhost or [::1] with the API's "
            "port; an Origin, when sent, must be an allowed extension. OPTIONS answers CORS "
            "preflights from allowed origins. The extension gets the token by pairing.",
        },
        "servers": [{"url": f"http://127.0.0.1:{port}{API_PREFIX}"}],
        "security": [{"bearer": []}],
        "paths": operations(max_page),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
