"""X (Twitter) chunked media upload: INIT, APPEND segments, FINALIZE on ``media/upload``.

INIT announces ``total_bytes``; the response names the ``media_id``. Each APPEND carries one
segment (multipart ``media``, or base64 ``media_data``) with its ``segment_index``. A photo
can be protected only whole and only at its announced size, so Veil answers every APPEND of
an image itself (204, nothing forwarded) until it holds all the bytes, then sends one APPEND
(segment 0) with the whole protected photo at exactly ``total_bytes``. What cannot be held
that way (an unknown session, a gap, too many bytes) falls under the failure rule.

API v2 speaks the same protocol: ``/2/media/upload`` with the same commands (handled here,
its INIT answer naming the id as ``data.id``), and the path form in ``xmedia_v2``, which
shares this adapter's session book and hold logic.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_from_bytes

from filters.codecs.formats import IMAGE_MAGIC_MIN_BYTES, sniff_format
from proxy.adapters.base import Adapter, Plan, SessionBook, UploadRequest
from proxy.shapes.types import splice

__all__ = ["MAX_APPEND_BYTES", "XMediaAdapter"]

# X accepts at most 5 MB in one APPEND; a photo held for protection is sent in one piece.
MAX_APPEND_BYTES = 5 * 1024 * 1024
# X answers a successful APPEND with an empty 2xx.
APPEND_OK = 204
# The whole photo -> (the body of the one APPEND that carries it, query changes).
WholeAppend = Callable[[bytes], tuple[bytes, dict[str, str]]]


@dataclass
class _Session:
    total_bytes: int
    media_type: str
    segments: list[bytes] = field(default_factory=list)
    # Set once segment 0 showed its first bytes: only then may a non-image pass.
    sniffed: bool = False
    # When the site said the session ends (Unix seconds), for answers given in its name.
    expires_at: int = 0

    @property
    def held(self) -> int:
        return sum(len(segment) for segment in self.segments)


def _is_x_upload(request: UploadRequest) -> bool:
    return request.path.rstrip("/").endswith(("/media/upload.json", "/media/upload"))


def form_segment(request: UploadRequest) -> bytes | None:
    """The bytes of an APPEND's segment: ``media`` (binary) or ``media_data`` (base64)."""
    if request.media_type.startswith("multipart/") and request.multipart is not None:
        for part in request.multipart.parts:
            if part.name == "media":
                return part.body
            if part.name == "media_data":
                return base64.b64decode(b"".join(part.body.split()))
        return None
    if request.media_type == "application/x-www-form-urlencoded":
        params = request.params()
        if "media_data" in params:
            return base64.b64decode("".join(params["media_data"].split()))
    return None


def form_whole_append(request: UploadRequest, image: bytes) -> tuple[bytes, dict[str, str]]:
    """The APPEND's body and query rewritten to carry ``image`` as segment 0."""
    query = {"segment_index": "0"} if any(k == "segment_index" for k, _ in request.query) else {}
    if request.media_type.startswith("multipart/") and request.multipart is not None:
        parsed = request.multipart
        for index, part in enumerate(parsed.parts):
            if part.name == "media":
                parsed = parsed.replace_body(index, image)
            elif part.name == "media_data":
                parsed = parsed.replace_body(index, base64.b64encode(image))
            elif part.name == "segment_index":
                parsed = parsed.replace_body(index, b"0")
        return parsed.serialize(), query
    body = request.body
    spans = []
    offset = 0
    for pair in body.split(b"&"):
        name = pair.partition(b"=")[0]
        start = offset + len(name) + 1
        if name == b"media_data":
            encoded = quote_from_bytes(base64.b64encode(image), safe="").encode()
            spans.append((start, offset + len(pair), encoded))
        elif name == b"segment_index":
            spans.append((start, offset + len(pair), b"0"))
        offset += len(pair) + 1
    return splice(body, spans), query


def _media_id(answer: object) -> str:
    """The id an INIT answer names: ``media_id_string`` (v1.1) or ``data.id`` (v2)."""
    if not isinstance(answer, dict):
        raise TypeError("an INIT answer that is not a JSON object")
    if isinstance(answer.get("data"), dict) and answer["data"].get("id"):
        return str(answer["data"]["id"])
    return str(answer.get("media_id_string") or answer["media_id"])


def _expires_after(answer: dict[str, Any]) -> int:
    """INIT's ``expires_after_secs`` (top level in v1.1, under ``data`` in v2); X's 24 h else."""
    data = answer.get("data")
    seconds = (data if isinstance(data, dict) else answer).get("expires_after_secs")
    return seconds if isinstance(seconds, int) and seconds > 0 else 86400


class XMediaAdapter(Adapter):
    """Holds the APPEND segments of an image until the whole photo can be protected."""

    name = "x-media-upload"

    def __init__(self, sessions: SessionBook[_Session] | None = None) -> None:
        # One book per X: a session INIT'ed in one API shape may be appended in another.
        self.sessions: SessionBook[_Session] = sessions if sessions is not None else SessionBook()

    def plan(self, request: UploadRequest) -> Plan | None:
        if not _is_x_upload(request):
            return None
        params = request.params()
        command = params.get("command", "").upper()
        if command == "INIT":
            return Plan(self.name, watch_response=True)
        if command == "FINALIZE":
            self.sessions.pop(params.get("media_id", ""))
            return Plan(self.name)
        if command != "APPEND":
            return None  # the one-request upload: an ordinary multipart or form body
        return self._hold(
            params.get("media_id", ""),
            params.get("segment_index", ""),
            form_segment(request),
            lambda image: form_whole_append(request, image),
        )

    def _hold(self, media_id: str, index: str, segment: bytes | None, whole: WholeAppend) -> Plan:
        """Hold one APPEND's segment; once the photo is whole, send it through ``whole``."""
        session = self.sessions.get(media_id)
        if session is None:
            return self._refuse(
                f"APPEND for media {media_id[:30]} whose INIT Veil did not see: "
                "its announced size is unknown"
            )
        if index == "0" and segment is not None and len(segment) >= IMAGE_MAGIC_MIN_BYTES:
            session.sniffed = True
            if sniff_format(segment) is not None:
                session.media_type = "image/"  # the bytes decide, whatever INIT claimed
        if not session.media_type.startswith("image/"):
            if not session.sniffed:
                # A photo announced as a video must not slip out in pieces too short to tell.
                self.sessions.pop(media_id)
                return self._refuse(
                    "the upload's first segment did not arrive first, or is too short to "
                    "tell whether it is a photo"
                )
            return Plan(self.name)  # a video or other file: nothing to hold
        if session.total_bytes > MAX_APPEND_BYTES:
            self.sessions.pop(media_id)
            return self._refuse(
                f"a photo of {session.total_bytes} bytes does not fit one APPEND "
                f"({MAX_APPEND_BYTES} bytes), so it cannot be protected whole"
            )
        if segment is None:
            return self._refuse("an APPEND without a media or media_data field")
        if index != str(len(session.segments)):
            self.sessions.pop(media_id)
            return self._refuse(
                f"segment {index[:10]} arrived where segment {len(session.segments)} was "
                "expected: the photo cannot be assembled"
            )
        session.segments.append(segment)
        if session.held < session.total_bytes:
            return self._held(session)
        self.sessions.pop(media_id)
        if session.held > session.total_bytes:
            return self._refuse(
                f"the segments hold {session.held} bytes, more than the {session.total_bytes} "
                "announced in INIT"
            )
        body, query = whole(b"".join(session.segments))
        return Plan(self.name, exact_size=True, body=body, query=query)

    def _held(self, session: _Session) -> Plan:
        """The answer to a segment Veil keeps, as the site answers an APPEND."""
        return Plan(self.name, reply=APPEND_OK)

    def _refuse(self, reason: str) -> Plan:
        return Plan(self.name, refuse=reason)

    def _announced(self, request: UploadRequest) -> tuple[int, str]:
        """INIT's ``total_bytes`` and ``media_type``; raises where they are missing."""
        params = request.params()
        return int(params["total_bytes"]), params.get("media_type", "")

    def response(self, request: UploadRequest, status: int, body: bytes) -> None:
        if not 200 <= status < 300:
            return
        try:
            answer = json.loads(body)
            media_id = _media_id(answer)
            total, media_type = self._announced(request)
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        expires_at = int(time.time()) + _expires_after(answer)
        self.sessions.put(media_id, _Session(total, media_type, expires_at=expires_at))
