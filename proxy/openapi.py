"""The control API's OpenAPI 3.1 description, served at /api/v1/openapi.json.

Tests hold it to the app: same routes and methods, and real responses valid against it."""

from __future__ import annotations

from typing import Any

from certs.keeper import TRUST_FIELD as _TRUST
from filters import DEFAULT_FACES, PROFILES, STRENGTHS, WHOSE_FACES
from filters.record import RecordField
from proxy.audit import OUTCOMES, RECORD_COLUMNS, THUMBNAIL_KINDS, UPLOAD_COLUMNS
from proxy.policies import FAILURE_ACTIONS

__all__ = ["API_PREFIX", "PAIR_PATH", "column_schema", "openapi_spec"]

API_PREFIX = "/api/v1"
# The one route without the bearer token: it hands the token over (see proxy.pairing).
PAIR_PATH = "/pair"

_STRING_OR_NULL = {"type": ["string", "null"]}
_INT_OR_NULL = {"type": ["integer", "null"]}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


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
        "type": "string",
        "description": "Exact host (photos.example.com) or *.example.com: the domain and its "
        "subdomains (a wildcard over a public suffix such as *.co.uk is refused).",
    },
    "enabled": {"type": "boolean"},
    "filters": {**_STRINGS, "description": "Filter names, applied in order."},
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
        {"status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"}, **_TRUST},
        required=["status", "version"],
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
    "PolicyInput": _object(_POLICY_FIELDS, required=[]),
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


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """Every call can meet 401 (token) and 403 (Host, Origin); add the route's own."""
    reasons = {
        400: "Invalid input",
        401: "Missing or wrong bearer token",
        403: "Host or Origin not allowed",
        404: "Not found",
        413: "Request body too large",
        415: "Body is not application/json",
        503: "Another program has locked Veil's database: retry after Retry-After seconds",
    }
    return {str(status): _json("Error", reasons[status]) for status in (401, 403, *statuses)}


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


_SITE = _param("site", "path", {"type": "string"}, "Site pattern, e.g. *.example.com")
_ID = _param("id", "path", {"type": "integer", "minimum": 1}, "Audit entry id")


def _get(summary: str, schema: str, *errors: int, parameters: list | None = None) -> dict:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": _json(schema, summary), **_errors(*errors)},
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def _paths(max_page: int) -> dict[str, Any]:
    page = [
        _param("site", "query", {"type": "string"}, "Only this host or *.domain pattern"),
        _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": max_page}, "Size"),
        _param("offset", "query", {"type": "integer", "minimum": 0}, "Entries to skip"),
    ]
    which = _param("which", "path", {"type": "string", "enum": list(THUMBNAIL_KINDS)}, "Which")
    thumbnail = _get("A thumbnail of the photo before or after protection", "Error", 400, 404)
    thumbnail["parameters"] = [_ID, which]
    thumbnail["responses"]["200"] = {
        "description": "The thumbnail image",
        "content": {kind: {} for kind in ("image/jpeg", "image/png", "image/webp")},
    }
    put = {
        "summary": "Create or replace a site's policy (site may be left out of the body)",
        "parameters": [_SITE],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("PolicyInput")}},
        },
        "responses": {
            "200": _json("Policy", "Replaced"),
            "201": _json("Policy", "Created"),
            **_errors(400, 413, 415, 503),
        },
    }
    delete = {
        "summary": "Delete a site's policy",
        "parameters": [_SITE],
        "responses": {"204": {"description": "Deleted"}, **_errors(400, 404, 503)},
    }
    pair = {
        "summary": "Trade the printed pairing code for the token (no token needed); single use",
        "description": "Allowed from the extension's fixed origin, from moz-extension:// origins "
        "(recorded on success, allowed from then on) and from local programs sending no Origin. "
        "Each code works once; after 5 wrong codes `veil run` prints a new one.",
        "security": [],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("PairRequest")}},
        },
        "responses": {
            "200": _json("Paired", "Paired: the token and the proxy port"),
            "400": _json("Error", "Invalid input"),
            "403": _json("Error", "Wrong code, or Host or Origin not allowed"),
            "413": _json("Error", "Request body too large"),
            "415": _json("Error", "Body is not application/json"),
        },
    }
    return {
        "/health": {"get": _get("Liveness, version, and trust in Veil's CA", "Health")},
        PAIR_PATH: {"post": pair},
        "/policies": {"get": _get("All site policies", "PolicyList")},
        "/policies/{site}": {
            "get": _get("One site's policy", "Policy", 400, 404, parameters=[_SITE]),
            "put": put,
            "delete": delete,
        },
        "/filters": {"get": _get("Filters a policy may name", "FilterList")},
        "/strengths": {"get": _get("Strengths a policy may name, mildest first", "StrengthList")},
        "/audit": {"get": _get("Audit log, newest first", "AuditPage", 400, parameters=page)},
        "/audit/{id}": {"get": _get("One audit entry", "AuditEntry", 400, 404, parameters=[_ID])},
        "/audit/{id}/thumbnails/{which}": {"get": thumbnail},
        "/stats": {"get": _get("Totals over the audit log", "Stats")},
        "/openapi.json": {"get": _get("This description", "OpenApi")},
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
        "paths": _paths(max_page),
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
