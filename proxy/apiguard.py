"""The control API's one middleware: what every request must pass, and errors as JSON.

Any web page can make the browser send requests to 127.0.0.1, so every request must pass
the Host check (DNS rebinding), the Origin check (foreign pages) and the bearer token; the one
exception to the token is ``POST /pair``, which hands it over for the code `veil run` printed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.apitypes import CONFIG_KEY, PAIRING_KEY, ApiConfig, ApiError, error_response
from proxy.openapi import API_PREFIX, PAIR_PATH
from proxy.policies import PolicyError
from proxy.store import StoreError

__all__ = ["MAX_BODY_BYTES", "guard"]

log = logging.getLogger(__name__)

# A policy is a few hundred bytes; anything near this is abuse, refused before it is read.
MAX_BODY_BYTES = 64 * 1024
_SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


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
        response = error_response(error.status, str(error), error.headers)
    except (PolicyError, StoreError) as error:
        response = error_response(400, str(error))
    except web.HTTPException as error:  # the router's 404/405, the body limit's 413
        allow = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        response = error_response(error.status, error.reason, allow)
    except Exception:
        log.exception("control API: %s %s failed", request.method, request.path)
        response = error_response(500, "internal error; see Veil's log")
    response.headers.update(_SECURITY_HEADERS)
    if origin is not None and _origin_admitted(request, origin):
        # Content-Disposition: a kept original's file name, which a CORS response shows the
        # extension only when exposed (where its fetch is CORS-checked, as for paired origins).
        cors = {"Access-Control-Expose-Headers": "Content-Disposition", "Vary": "Origin"}
        response.headers.update({"Access-Control-Allow-Origin": origin, **cors})
    return response
