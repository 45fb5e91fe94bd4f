"""The control API's typed pieces: its configuration, its error, and the application keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from proxy.pairing import Pairing
from proxy.store import Store

__all__ = [
    "CONFIG_KEY",
    "FILTERS_KEY",
    "MIN_TOKEN_LENGTH",
    "ON_POLICIES_CHANGED_KEY",
    "PAIRING_KEY",
    "STORE_KEY",
    "ApiConfig",
    "ApiError",
    "error_response",
    "json_response",
]

MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class ApiConfig:
    """What the API checks each request against."""

    token: str
    port: int
    allowed_origins: tuple[str, ...]  # e.g. ("chrome-extension://<id>",)
    version: str = "0.1.0"
    proxy_port: int | None = None  # told to the extension at pairing, for its routing
    # Told in /health: the audit page then offers each protected upload's original.
    keep_originals: bool = False

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


def json_response(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    response = json_response({"error": message}, status=status)
    response.headers.update(headers or {})
    return response
