"""Facebook Graph resumable uploads: ``POST /{app}/uploads?file_length=N`` then the bytes.

The first request announces ``file_length`` and ``file_type``; its response names the session
(``{"id": "upload:..."}``). The bytes follow in ``POST /upload:...`` with a ``file_offset``
header. A photo sent whole from offset 0 is protected at exactly its announced length; a later
offset of a photo carries its tail, whose start Veil could not protect with it.
"""

from __future__ import annotations

import json
import re

from filters.codecs.formats import sniff_format
from proxy.adapters.base import Adapter, Plan, SessionBook, UploadRequest

__all__ = ["GraphResumableAdapter"]

_START = re.compile(r"/(?:v\d+(?:\.\d+)?/)?[^/]+/uploads/?$")
_TRANSFER = re.compile(r"/(?:v\d+(?:\.\d+)?/)?(upload:[^/]+)$")


class GraphResumableAdapter(Adapter):
    """Size-preserving protection for Graph API resumable uploads."""

    name = "facebook-resumable"

    def __init__(self) -> None:
        self.sessions: SessionBook[tuple[int, str]] = SessionBook()  # id -> (length, type)

    def plan(self, request: UploadRequest) -> Plan | None:
        params = dict(request.query)
        if _START.search(request.path) and "file_length" in params:
            return Plan(self.name, watch_response=True)
        match = _TRANSFER.search(request.path)
        if match is None:
            return None
        session = self.sessions.get(match[1])
        offset = (request.header("file_offset") or "0").strip()
        starts_image = sniff_format(request.body) is not None
        is_image = starts_image or (session is not None and session[1].startswith("image/"))
        if offset != "0":
            if session is not None and not is_image:
                return Plan(self.name)  # the rest of a video or document
            return Plan(
                self.name,
                refuse=f"a resumed upload (file_offset {offset[:20]}) of a file whose start "
                "Veil did not protect with it",
            )
        if session is not None and is_image and len(request.body) != session[0]:
            return Plan(
                self.name,
                refuse=f"file_length announced {session[0]} bytes but {len(request.body)} "
                "arrived: a partial photo cannot be protected",
            )
        return Plan(self.name, exact_size=True)

    def response(self, request: UploadRequest, status: int, body: bytes) -> None:
        params = dict(request.query)
        try:
            session = json.loads(body)["id"]
            length = int(params["file_length"])
        except (ValueError, KeyError, TypeError):
            return
        if isinstance(session, str) and session.startswith("upload:"):
            self.sessions.put(session, (length, params.get("file_type", "")))
