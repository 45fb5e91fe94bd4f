"""X API v2 chunked media upload, path form: ``/2/media/upload/initialize``, then
``/2/media/upload/{id}/append`` segments and ``/2/media/upload/{id}/finalize``.

initialize announces ``total_bytes`` in a JSON body; its answer names the id as ``data.id``.
An append carries one segment, as multipart (``media`` binary or ``media_data`` base64, with
``segment_index``) or as JSON (``{"media": "<base64>", "segment_index": k}``). The guarantees
are v1.1's, from the same hold logic and session book (``xmedia``): an image's segments are
answered locally (200 with the session's ``expires_at``, as X answers an append), the whole
protected photo leaves as one append (segment 0) at exactly ``total_bytes``, and an unknown
id, a gap or too many bytes fall under the failure rule.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from proxy.adapters.base import Plan, UploadRequest
from proxy.adapters.xmedia import XMediaAdapter, _Session, form_segment, form_whole_append

__all__ = ["XMediaV2Adapter"]

_PATH = re.compile(
    r"/2/media/upload/(?:(?P<init>initialize)|(?P<id>[^/]+)/(?P<step>append|finalize))/?$"
)
# The JSON keys an append may carry its base64 segment in.
_MEDIA_KEYS = ("media", "media_data")


def _json_doc(request: UploadRequest) -> dict[str, Any] | None:
    """The request's JSON object, or None for a form body or anything else."""
    if request.media_type.startswith("multipart/") or request.media_type.endswith("urlencoded"):
        return None
    try:
        doc = json.loads(request.body)
    except ValueError:  # also UnicodeDecodeError
        return None
    return doc if isinstance(doc, dict) else None


def _media_key(doc: dict[str, Any]) -> str | None:
    return next((key for key in _MEDIA_KEYS if isinstance(doc.get(key), str)), None)


def _json_index(request: UploadRequest, doc: dict[str, Any]) -> str:
    """The segment index as v1.1 compares it: text; a missing one counts as a gap."""
    index = doc.get("segment_index", request.params().get("segment_index", ""))
    return index if isinstance(index, str) else json.dumps(index)


def _json_whole_append(
    request: UploadRequest, doc: dict[str, Any], key: str, image: bytes
) -> tuple[bytes, dict[str, str]]:
    """A JSON append carrying ``image`` as segment 0, its other members kept in order.

    Re-serialised rather than spliced: this body is built by Veil from several requests,
    and X reads it as JSON whatever its spacing.
    """
    whole = dict(doc)
    whole[key] = base64.b64encode(image).decode("ascii")
    if "segment_index" in doc:
        whole["segment_index"] = "0" if isinstance(doc["segment_index"], str) else 0
    query = {"segment_index": "0"} if any(k == "segment_index" for k, _ in request.query) else {}
    return json.dumps(whole).encode(), query


class XMediaV2Adapter(XMediaAdapter):
    """Holds the v2 append segments of an image until the whole photo can be protected."""

    name = "x-media-upload-v2"

    def plan(self, request: UploadRequest) -> Plan | None:
        match = _PATH.search(request.path)
        if match is None:
            return None
        if match["init"]:
            return Plan(self.name, watch_response=True)
        media_id = match["id"]
        if match["step"] == "finalize":
            self.sessions.pop(media_id)
            return Plan(self.name)
        doc = _json_doc(request)
        if doc is None:
            return self._hold(
                media_id,
                request.params().get("segment_index", ""),
                form_segment(request),
                lambda image: form_whole_append(request, image),
            )
        key = _media_key(doc)
        # binascii.Error is a ValueError: the addon applies the failure rule to bad base64.
        segment = base64.b64decode("".join(doc[key].split())) if key else None
        return self._hold(
            media_id,
            _json_index(request, doc),
            segment,
            lambda image: _json_whole_append(request, doc, key or _MEDIA_KEYS[0], image),
        )

    def _held(self, session: _Session) -> Plan:
        # v2 answers an append with 200 and when the session expires, where v1.1 gives 204.
        answer = {"data": {"expires_at": session.expires_at}}
        return Plan(self.name, reply=200, reply_body=json.dumps(answer).encode())

    def _announced(self, request: UploadRequest) -> tuple[int, str]:
        doc = _json_doc(request)
        if doc is None:  # initialize sent as a form, as the command form does
            return super()._announced(request)
        return int(doc["total_bytes"]), str(doc.get("media_type", ""))
