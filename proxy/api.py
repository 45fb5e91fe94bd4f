"""The control API: site policies and the audit log over local HTTP, for the extension and CLI.

Any web page can make the browser send requests to 127.0.0.1, so every request must pass
the Host check (DNS rebinding), the Origin check (foreign pages) and the bearer token; the one
exception to the token is ``POST /pair``, which hands it over for the code `veil run` printed.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from proxy.openapi import API_PREFIX, PAIR_PATH, openapi_spec
from proxy.pairing import Pairing, PairingError
from proxy.policies import PolicyError, normalize_site, parse_policy
from proxy.store import THUMBNAIL_KINDS, Store, StoreError

__all__ = [
    "CONFIG_KEY",
    "FILTERS_KEY",
    "MAX_BODY_BYTES",
    "MAX_PAGE",
    "MIN_TOKEN_LENGTH",
    "ON_POLICIES_CHANGED_KEY",
    "PAIRING_KEY",
    "STORE_KEY",
    "ApiConfig",
    "ApiError",
    "create_app",
]

log = logging.getLogger(__name__)

# A policy is a few hundred bytes; anything near this is abuse, refused before it is read.
MAX_BODY_BYTES = 64 * 1024
MIN_TOKEN_LENGTH = 16
# One page of the audit log; the extension pages through the rest.
MAX_PAGE = 200
# Within SQLite's signed 64-bit integers, and far beyond any real id or offset.
_MAX_INT = 2**53
_DIGITS = re.compile(r"[0-9]{1,16}")
_SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"RIFF", "image/webp"))


@dataclass(frozen=True)
class ApiConfig:
    """What the API checks each request against."""

    token: str
    port: int
    allowed_origins: tuple[str, ...]  # e.g. ("chrome-extension://<id>",)
    version: str = "0.1.0"
    proxy_port: int | None = None  # told to the extension at pairing, for its routing

    def __post_init__(self) -> None:
        # An empty or short token would let any local page in (compare_digest(b"", b"")).
        if len(self.token) < MIN_TOKEN_LENGTH or not self.token.isascii():
            raise ValueError(f"the API token must be {MIN_TOKEN_LENGTH}+ ASCII characters")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be a TCP port number, not {self.port!r}")


class ApiError(ValueError):
    """A request the API refuses: HTTP status and a message for the JSON body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


STORE_KEY = web.AppKey("store", Store)
CONFIG_KEY = web.AppKey("config", ApiConfig)
FILTERS_KEY = web.AppKey("filters", list[dict[str, str]])
ON_POLICIES_CHANGED_KEY = web.AppKey("on_policies_changed", Callable[[], None] | None)
PAIRING_KEY = web.AppKey("pairing", Pairing)


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    response = _json({"error": message}, status=status)
    response.headers.update(headers or {})
    return response


def _origin_admitted(request: web.Request, origin: str) -> bool:
    """Allowed extensions everywhere; Firefox's per-install origins also on /pair."""
    pairing = request.app[PAIRING_KEY]
    if request.path == API_PREFIX + PAIR_PATH:
        return pairing.may_pair(origin)
    return pairing.allowed(origin)


def _check_request(request: web.Request, config: ApiConfig, origin: str | None) -> None:
    """Host, then Origin, then (except for preflight and pairing) token, then body shape."""
    allowed_hosts = {f"{name}:{config.port}" for name in ("127.0.0.1", "localhost", "[::1]")}
    if request.headers.get("Host", "").lower() not in allowed_hosts:
        raise ApiError(403, "Host not allowed: use 127.0.0.1, localhost or [::1] with the API port")
    if origin is not None and not _origin_admitted(request, origin):
        raise ApiError(403, "Origin not allowed")
    if request.method == "OPTIONS":
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = config.token.encode()
    if request.path != API_PREFIX + PAIR_PATH and (
        scheme.lower() != "bearer"
        or not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected)
    ):
        raise ApiError(401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
    if request.method != "GET" and request.body_exists:
        if request.content_type != "application/json":
            raise ApiError(415, "request bodies must be application/json")
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")


def _preflight(request: web.Request, origin: str | None) -> web.Response:
    """CORS preflight for an allowed origin (the Origin was checked before)."""
    if origin is None:
        raise ApiError(403, "OPTIONS answers only CORS preflights from an allowed Origin")
    missing = request.match_info.http_exception
    if not isinstance(missing, web.HTTPMethodNotAllowed):
        raise ApiError(404, "no such resource")
    response = web.Response(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Methods": ", ".join(sorted(missing.allowed_methods)),
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Max-Age": "600",
        }
    )
    return response


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The one middleware: refuse what must be refused, and turn errors into JSON."""
    config = request.app[CONFIG_KEY]
    origin = request.headers.get("Origin")
    try:
        _check_request(request, config, origin)
        if request.method == "OPTIONS":
            response = _preflight(request, origin)
        else:
            response = await handler(request)
    except ApiError as error:
        response = _error(error.status, str(error), error.headers)
    except (PolicyError, StoreError) as error:
        response = _error(400, str(error))
    except web.HTTPException as error:  # the router's 404/405, the body limit's 413
        allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = _error(error.status, error.reason, allow)
    except Exception:
        log.exception("control API: %s %s failed", request.method, request.path)
        response = _error(500, "internal error; see Veil's log")
    response.headers.update(_SECURITY_HEADERS)
    if origin is not None and _origin_admitted(request, origin):
        response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
    return response


async def _json_body(request: web.Request) -> object:
    if not request.body_exists:
        raise ApiError(400, "a JSON body is required")
    raw = await request.read()  # the app's client_max_size answers 413 for chunked floods
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are both
        raise ApiError(400, f"the body is not valid JSON: {error}") from None


def _int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}")
    return int(text)


def _changed(request: web.Request) -> None:
    callback = request.app[ON_POLICIES_CHANGED_KEY]
    if callback is not None:
        callback()


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok", "version": request.app[CONFIG_KEY].version})


async def pair(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict) or set(body) != {"code"}:
        raise ApiError(400, 'the body must be {"code": "<the code `veil run` printed>"}')
    try:
        request.app[PAIRING_KEY].redeem(body["code"], request.headers.get("Origin"))
    except PairingError as error:
        raise ApiError(403, str(error)) from None
    config = request.app[CONFIG_KEY]
    return _json(
        {"token": config.token, "proxy_port": config.proxy_port, "version": config.version}
    )


async def list_policies(request: web.Request) -> web.Response:
    policies = request.app[STORE_KEY].list_policies()
    return _json({"items": [policy.to_dict() for policy in policies]})


async def get_policy(request: web.Request) -> web.Response:
    policy = request.app[STORE_KEY].get_policy(request.match_info["site"])
    if policy is None:
        raise ApiError(404, "no policy for this site")
    return _json(policy.to_dict())


async def put_policy(request: web.Request) -> web.Response:
    known = [info["name"] for info in request.app[FILTERS_KEY]]
    policy = parse_policy(await _json_body(request), known, site=request.match_info["site"])
    created = request.app[STORE_KEY].put_policy(policy)
    _changed(request)
    return _json(policy.to_dict(), status=201 if created else 200)


async def delete_policy(request: web.Request) -> web.Response:
    if not request.app[STORE_KEY].delete_policy(request.match_info["site"]):
        raise ApiError(404, "no policy for this site")
    _changed(request)
    return web.Response(status=204)


async def list_filters(request: web.Request) -> web.Response:
    return _json({"items": request.app[FILTERS_KEY]})


async def list_audit(request: web.Request) -> web.Response:
    query = request.query
    site = normalize_site(query["site"]) if query.get("site") else None
    limit = _int(query.get("limit"), "limit", 50, 1, MAX_PAGE)
    offset = _int(query.get("offset"), "offset", 0, 0, _MAX_INT)
    entries, total = request.app[STORE_KEY].list_audit(site, limit=limit, offset=offset)
    items = [entry.to_dict() for entry in entries]
    return _json({"items": items, "total": total, "limit": limit, "offset": offset})


def _entry_id(request: web.Request) -> int:
    return _int(request.match_info["id"], "id", 0, 1, _MAX_INT)


async def get_audit(request: web.Request) -> web.Response:
    entry = request.app[STORE_KEY].get_audit(_entry_id(request))
    if entry is None:
        raise ApiError(404, "no such audit entry")
    return _json(entry.to_dict())


async def get_thumbnail(request: web.Request) -> web.Response:
    entry_id, which = _entry_id(request), request.match_info["which"]
    if which not in THUMBNAIL_KINDS:
        raise ApiError(400, f"thumbnail must be one of {', '.join(THUMBNAIL_KINDS)}")
    data = request.app[STORE_KEY].get_thumbnail(entry_id, which)
    if data is None:
        raise ApiError(404, "no such thumbnail")
    kind = next((kind for magic, kind in _IMAGE_TYPES if data.startswith(magic)), "image/jpeg")
    return web.Response(body=data, content_type=kind)


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STORE_KEY].stats())


async def openapi(request: web.Request) -> web.Response:
    config = request.app[CONFIG_KEY]
    return _json(openapi_spec(config.version, config.port, MAX_PAGE))


def _routes() -> list[web.RouteDef]:
    # allow_head=False: HEAD is not in the OpenAPI description, so it is not served either.
    def get(path: str, handler: Callable[[web.Request], Awaitable[web.Response]]) -> web.RouteDef:
        return web.get(API_PREFIX + path, handler, allow_head=False)

    return [
        get("/health", health),
        web.post(API_PREFIX + PAIR_PATH, pair),
        get("/policies", list_policies),
        get("/policies/{site}", get_policy),
        web.put(API_PREFIX + "/policies/{site}", put_policy),
        web.delete(API_PREFIX + "/policies/{site}", delete_policy),
        get("/filters", list_filters),
        get("/audit", list_audit),
        get("/audit/{id}", get_audit),
        get("/audit/{id}/thumbnails/{which}", get_thumbnail),
        get("/stats", stats),
        get("/openapi.json", openapi),
    ]


def create_app(
    store: Store,
    config: ApiConfig,
    filters: list[dict[str, str]],
    on_policies_changed: Callable[[], None] | None = None,
    pairing: Pairing | None = None,
) -> web.Application:
    """The control API application; ``filters`` lists {"name", "description"} of each filter.

    ``pairing`` holds the code and the paired origins; by default a fresh one that allows
    ``config.allowed_origins`` and announces its codes nowhere.
    """
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    app[STORE_KEY] = store
    app[CONFIG_KEY] = config
    app[FILTERS_KEY] = [{"name": f["name"], "description": f["description"]} for f in filters]
    app[ON_POLICIES_CHANGED_KEY] = on_policies_changed
    app[PAIRING_KEY] = pairing or Pairing(config.allowed_origins)
    app.add_routes(_routes())
    return app
