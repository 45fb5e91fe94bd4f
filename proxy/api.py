"""The control API: site policies and the audit log over local HTTP, for the extension and CLI.

The handlers, their routes and ``create_app``; every request first passes the guard
(``proxy.apiguard``: Host, Origin, bearer token), and the API's typed pieces are
``proxy.apitypes``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from filters import describe_strengths
from proxy.apiguard import MAX_BODY_BYTES, guard
from proxy.apipaths import MAX_INT
from proxy.apitypes import (
    CONFIG_KEY,
    FILTERS_KEY,
    ON_POLICIES_CHANGED_KEY,
    PAIRING_KEY,
    STORE_KEY,
    ApiConfig,
    ApiError,
    json_response,
)
from proxy.openapi import API_PREFIX, PAIR_PATH, openapi_spec
from proxy.originals import OriginalsError, OriginalsVault, original_kind, served_as
from proxy.pairing import Pairing, PairingError
from proxy.policies import parse_policy
from proxy.sites import normalize_site
from proxy.store import THUMBNAIL_KINDS, Store, StoreBusy
from proxy.zones import ZoneError, parse_zones

__all__ = ["MAX_PAGE", "TRUST_KEY", "create_app"]

log = logging.getLogger(__name__)

# One page of the audit log; the extension pages through the rest.
MAX_PAGE = 200
_DIGITS = re.compile(r"[0-9]{1,16}")
_IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"RIFF", "image/webp"))
# When another program holds the database's lock: long enough for a short write to end.
RETRY_AFTER_S = 2
Handler = Callable[[web.Request], Awaitable[web.Response]]
# What /health says of trust in Veil's CA (``certs.keeper.CaKeeper.status``); None: nothing.
TRUST_KEY = web.AppKey("trust", Callable[[], Mapping[str, object]] | None)
ORIGINALS_KEY = web.AppKey("originals", OriginalsVault | None)


def _busy_is_503(handler: Handler) -> Handler:
    """A lock another program holds is a 503 the client may retry, not an internal error."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except StoreBusy as error:
            retry = {"Retry-After": str(RETRY_AFTER_S)}
            raise ApiError(503, f"{error}; retry in {RETRY_AFTER_S} s", retry) from None

    return answer


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
    config = request.app[CONFIG_KEY]
    body: dict[str, object] = {
        "status": "ok",
        "version": config.version,
        "keep_originals": config.keep_originals,
    }
    trust = request.app[TRUST_KEY]
    if trust is not None:
        body["trust"] = dict(trust())
    return json_response(body)


async def pair(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict) or set(body) != {"code"}:
        raise ApiError(400, 'the body must be {"code": "<the code `veil run` printed>"}')
    try:
        request.app[PAIRING_KEY].redeem(body["code"], request.headers.get("Origin"))
    except PairingError as error:
        raise ApiError(403, str(error)) from None
    config = request.app[CONFIG_KEY]
    return json_response(
        {"token": config.token, "proxy_port": config.proxy_port, "version": config.version}
    )


async def list_policies(request: web.Request) -> web.Response:
    policies = request.app[STORE_KEY].list_policies()
    return json_response({"items": [policy.to_dict() for policy in policies]})


async def get_policy(request: web.Request) -> web.Response:
    policy = request.app[STORE_KEY].get_policy(_site(request.match_info["site"]))
    if policy is None:
        raise ApiError(404, "no policy for this site")
    return json_response(policy.to_dict())


async def put_policy(request: web.Request) -> web.Response:
    known = [info["name"] for info in request.app[FILTERS_KEY]]
    policy = parse_policy(await _json_body(request), known, site=_site(request.match_info["site"]))
    # Off the loop: the write may wait a moment for a lock, and /health must not.
    created = await asyncio.to_thread(request.app[STORE_KEY].put_policy, policy)
    _changed(request)
    return json_response(policy.to_dict(), status=201 if created else 200)


async def delete_policy(request: web.Request) -> web.Response:
    site = _site(request.match_info["site"])
    if not await asyncio.to_thread(request.app[STORE_KEY].delete_policy, site):
        raise ApiError(404, "no policy for this site")
    _changed(request)
    return web.Response(status=204)


async def get_zones(request: web.Request) -> web.Response:
    return json_response(request.app[STORE_KEY].get_zones().to_dict())


async def put_zones(request: web.Request) -> web.Response:
    try:
        zones = parse_zones(await _json_body(request))
    except ZoneError as error:
        raise ApiError(400, str(error)) from None
    await asyncio.to_thread(request.app[STORE_KEY].put_zones, zones)  # off the loop, as policies
    return json_response(zones.to_dict())


async def list_filters(request: web.Request) -> web.Response:
    return json_response({"items": request.app[FILTERS_KEY]})


async def list_strengths(request: web.Request) -> web.Response:
    return json_response({"items": describe_strengths()})


async def list_audit(request: web.Request) -> web.Response:
    query = request.query
    site = normalize_site(_site(query["site"])) if "site" in query else None  # "" is none
    limit = _int(query.get("limit"), "limit", 50, 1, MAX_PAGE)
    offset = _int(query.get("offset"), "offset", 0, 0, MAX_INT)
    entries, total = request.app[STORE_KEY].list_audit(site, limit=limit, offset=offset)
    items = [entry.to_dict() for entry in entries]
    return json_response({"items": items, "total": total, "limit": limit, "offset": offset})


def _site(text: str) -> str:
    """A site as the API takes it: ASCII, international names in punycode as browsers send
    them (the OpenAPI pattern says so; it cannot say which Unicode names IDNA allows)."""
    if not text.isascii():
        raise ApiError(400, f"write the site {text!r} in punycode (xn--...), as a browser does")
    return text


def _entry_id(request: web.Request) -> int:
    return _int(request.match_info["id"], "id", 0, 1, MAX_INT)


async def get_audit(request: web.Request) -> web.Response:
    entry = request.app[STORE_KEY].get_audit(_entry_id(request))
    if entry is None:
        raise ApiError(404, "no such audit entry")
    return json_response(entry.to_dict())


async def get_thumbnail(request: web.Request) -> web.Response:
    entry_id, which = _entry_id(request), request.match_info["which"]
    if which not in THUMBNAIL_KINDS:
        raise ApiError(400, f"thumbnail must be one of {', '.join(THUMBNAIL_KINDS)}")
    data = request.app[STORE_KEY].get_thumbnail(entry_id, which)
    if data is None:
        raise ApiError(404, "no such thumbnail")
    kind = next((kind for magic, kind in _IMAGE_TYPES if data.startswith(magic)), "image/jpeg")
    return web.Response(body=data, content_type=kind)


async def get_original(request: web.Request) -> web.Response:
    """The photo or activity file as it was before Veil changed it, when the user keeps
    originals."""
    entry_id = _entry_id(request)
    entry = request.app[STORE_KEY].get_audit(entry_id)
    if entry is None:
        raise ApiError(404, "no such audit entry")
    vault = request.app[ORIGINALS_KEY]
    sha256 = entry.record.sha256_before if entry.record else None
    if vault is None or not sha256:
        raise ApiError(404, "no original is kept for this upload")
    try:
        data = await asyncio.to_thread(vault.read, sha256)
    except OriginalsError as error:
        raise ApiError(404, str(error)) from None
    kind, suffix = served_as(*original_kind(data, entry.format))
    name = f"original-{entry_id}.{suffix}"
    # An original holds what Veil removed: no cache keeps a copy.
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return web.Response(body=data, content_type=kind, headers=headers)


async def stats(request: web.Request) -> web.Response:
    return json_response(request.app[STORE_KEY].stats())


async def openapi(request: web.Request) -> web.Response:
    config = request.app[CONFIG_KEY]
    return json_response(openapi_spec(config.version, config.port, MAX_PAGE))


def _routes() -> list[web.RouteDef]:
    # allow_head=False: HEAD is not in the OpenAPI description, so it is not served either.
    def get(path: str, handler: Handler) -> web.RouteDef:
        return web.get(API_PREFIX + path, handler, allow_head=False)

    routes = [
        get("/health", health),
        web.post(API_PREFIX + PAIR_PATH, pair),
        get("/policies", list_policies),
        get("/policies/{site}", get_policy),
        web.put(API_PREFIX + "/policies/{site}", put_policy),
        web.delete(API_PREFIX + "/policies/{site}", delete_policy),
        get("/zones", get_zones),
        web.put(API_PREFIX + "/zones", put_zones),
        get("/filters", list_filters),
        get("/strengths", list_strengths),
        get("/audit", list_audit),
        get("/audit/{id}", get_audit),
        get("/audit/{id}/thumbnails/{which}", get_thumbnail),
        get("/audit/{id}/original", get_original),
        get("/stats", stats),
        get("/openapi.json", openapi),
    ]
    return [web.RouteDef(r.method, r.path, _busy_is_503(r.handler), r.kwargs) for r in routes]


def create_app(
    store: Store,
    config: ApiConfig,
    filters: list[dict[str, str]],
    on_policies_changed: Callable[[], None] | None = None,
    pairing: Pairing | None = None,
    trust: Callable[[], Mapping[str, object]] | None = None,
    originals: OriginalsVault | None = None,
) -> web.Application:
    """The control API application; ``filters`` lists {"name", "description"} of each filter.

    ``pairing`` holds the code and the paired origins; by default a fresh one that allows
    ``config.allowed_origins`` and announces its codes nowhere. ``trust`` describes Veil's
    CA for /health (fingerprint, whether trust must be renewed, the command that does it).
    ``originals``: where kept originals are read from (with ``config.keep_originals`` on, or
    kept earlier and still within their limit).
    """
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    app[STORE_KEY] = store
    app[CONFIG_KEY] = config
    app[FILTERS_KEY] = [{"name": f["name"], "description": f["description"]} for f in filters]
    app[ON_POLICIES_CHANGED_KEY] = on_policies_changed
    app[PAIRING_KEY] = pairing or Pairing(config.allowed_origins)
    app[TRUST_KEY] = trust
    app[ORIGINALS_KEY] = originals
    app.add_routes(_routes())
    return app
