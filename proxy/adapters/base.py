"""What every site adapter sees (an upload request as plain data) and what it decides (a plan).

Adapters recognise a request by its shape (path, parameters, headers), not only its host, so
a user's own Mastodon or Bluesky instance, or a new CDN name, is handled the same way.
Pure Python: nothing from mitmproxy or torch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar
from urllib.parse import parse_qsl

from proxy.headers import parse_header_params
from proxy.multipart import MalformedBody, Multipart, parse_form

__all__ = ["Adapter", "Finish", "Plan", "SessionBook", "UploadRequest"]

# Form fields longer than this are files, not parameters such as "command" or "media_id".
_MAX_PARAM_BYTES = 4096
T = TypeVar("T")


@dataclass(frozen=True)
class UploadRequest:
    """An upload as the adapters see it: decoded body, lower-cased header names."""

    method: str
    host: str
    path: str  # without the query
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def media_type(self) -> str:
        return parse_header_params(self.content_type or "")[0]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @cached_property
    def multipart(self) -> Multipart | None:
        """The body's parts, parsed once for every adapter and for finding the images; None
        when the body is not multipart.

        Raises:
            MalformedBody: it claims to be multipart but cannot be split into parts.
        """
        return parse_form(self.content_type, self.body)

    def params(self) -> dict[str, str]:
        """Query parameters, then short urlencoded or multipart text fields (first one wins)."""
        found: dict[str, str] = {}
        for name, value in self.query:
            found.setdefault(name, value)
        for name, value in self._body_params():
            found.setdefault(name, value)
        return found

    def _body_params(self) -> list[tuple[str, str]]:
        if self.media_type == "application/x-www-form-urlencoded":
            pairs = [p for p in self.body.split(b"&") if len(p) <= _MAX_PARAM_BYTES]
            return parse_qsl(b"&".join(pairs).decode("latin-1"))
        if self.media_type.startswith("multipart/"):
            try:
                parts = self.multipart.parts if self.multipart is not None else ()
            except MalformedBody:
                return []
            return [
                (part.name, part.body.decode("utf-8", "replace"))
                for part in parts
                if part.name and part.filename is None and len(part.body) <= _MAX_PARAM_BYTES
            ]
        return []


@dataclass(frozen=True)
class Finish:
    """What an adapter changes once the images are protected."""

    headers: dict[str, str] = field(default_factory=dict)


# (new body, [(width, height) of each protected image]) -> header changes.
FinishFn = Callable[[bytes, list[tuple[int, int]]], Finish]


@dataclass(frozen=True)
class Plan:
    """How the proxy treats one upload.

    Attributes:
        adapter: the adapter that recognised the request, for logs and reasons.
        exact_size: the byte length was announced earlier: keep it (size-preserving encode).
        refuse: the upload cannot be protected; apply the failure rule with this reason.
        reply: answer the client with this status and forward nothing (a held segment).
        reply_body: the body of that answer, JSON when not empty.
        body: the body to protect and send instead of the request's (assembled segments).
        query: query parameters to set on the request before it is sent.
        finish: header changes computed from the protected body.
        watch_response: hand the response to the adapter (it learns an upload session).
        watcher: set by :func:`~proxy.adapters.plan_upload` when ``watch_response``: the
            adapter's ``response`` for this request, to call with the status and body.
    """

    adapter: str | None = None
    exact_size: bool = False
    refuse: str | None = None
    reply: int | None = None
    reply_body: bytes = b""
    body: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    finish: FinishFn | None = None
    watch_response: bool = False
    watcher: Callable[[int, bytes], None] | None = None


class Adapter:
    """A site upload protocol; ``plan`` returns None for requests of another shape."""

    name = "adapter"

    def plan(self, request: UploadRequest) -> Plan | None:
        raise NotImplementedError

    def response(self, request: UploadRequest, status: int, body: bytes) -> None:
        """Learn from the response to a request whose plan set ``watch_response``."""


class SessionBook(Generic[T]):
    """Upload sessions by id, oldest dropped first: memory stays bounded whatever clients do."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, T] = OrderedDict()

    def put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def pop(self, key: str) -> T | None:
        return self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
