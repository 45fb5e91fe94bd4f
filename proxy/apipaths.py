"""The control API's operations for its OpenAPI description (``proxy.openapi``): paths,
parameters and responses, and the site pattern both share."""

from __future__ import annotations

from typing import Any

from proxy.audit import THUMBNAIL_KINDS
from proxy.originals import GZIP_MEDIA_TYPE, MEDIA_TYPES, UNKNOWN
from proxy.sites import SITE_PATTERN

__all__ = ["MAX_INT", "PAIR_PATH", "SITE_SCHEMA", "operations", "ref"]

# The one route without the bearer token: it hands the token over (see proxy.pairing).
PAIR_PATH = "/pair"
# Within SQLite's signed 64-bit integers, and far beyond any real id or offset.
MAX_INT = 2**53
SITE_SCHEMA: dict[str, Any] = {"type": "string", "pattern": SITE_PATTERN}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


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


_SITE = _param("site", "path", SITE_SCHEMA, "Site pattern, e.g. *.example.com")
_ID = _param("id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_INT}, "Audit entry id")


def _get(summary: str, schema: str, *errors: int, parameters: list | None = None) -> dict:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {"200": _json(schema, summary), **_errors(*errors)},
    }
    if parameters:
        operation["parameters"] = parameters
    return operation


def operations(max_page: int) -> dict[str, Any]:
    """The paths object: every route, its parameters and responses."""
    page = [
        _param("site", "query", SITE_SCHEMA, "Only this host or *.domain pattern"),
        _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": max_page}, "Size"),
        _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": MAX_INT}, "Skip"),
    ]
    which = _param("which", "path", {"type": "string", "enum": list(THUMBNAIL_KINDS)}, "Which")
    thumbnail = _get("A thumbnail of the photo before or after protection", "Error", 400, 404)
    thumbnail["parameters"] = [_ID, which]
    thumbnail["responses"]["200"] = {
        "description": "The thumbnail image",
        "content": {kind: {} for kind in ("image/jpeg", "image/png", "image/webp")},
    }
    original = _get(
        "The photo or activity file as uploaded, when originals are kept", "Error", 400, 404
    )
    original["parameters"] = [_ID]
    kinds = [*MEDIA_TYPES.values(), GZIP_MEDIA_TYPE, UNKNOWN[0]]
    original["responses"]["200"] = {
        "description": "The original, decrypted (a gzipped activity file as it was sent)",
        "content": {kind: {} for kind in kinds},
    }
    put = {
        "summary": "Create or replace a site's policy (site may be left out of the body)",
        "parameters": [_SITE],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("PolicyInput")}},
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
            "content": {"application/json": {"schema": ref("PairRequest")}},
        },
        "responses": {
            "200": _json("Paired", "Paired: the token and the proxy port"),
            "400": _json("Error", "Invalid input"),
            "403": _json("Error", "Wrong code, or Host or Origin not allowed"),
            "413": _json("Error", "Request body too large"),
            "415": _json("Error", "Body is not application/json"),
        },
    }
    put_zones = {
        "summary": "Replace the privacy zones that track-privacy hides in activity files",
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ref("Zones")}},
        },
        "responses": {"200": _json("Zones", "Replaced"), **_errors(400, 413, 415, 503)},
    }
    return {
        "/health": {"get": _get("Liveness, version, and trust in Veil's CA", "Health")},
        "/zones": {"get": _get("The privacy zones", "Zones"), "put": put_zones},
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
        "/audit/{id}/original": {"get": original},
        "/stats": {"get": _get("Totals over the audit log", "Stats")},
        "/openapi.json": {"get": _get("This description", "OpenApi")},
    }
