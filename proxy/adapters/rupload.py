"""Instagram and Threads web uploads: ``POST /rupload_igphoto/<name>`` with a raw body.

The same request announces the file: ``X-Entity-Length`` (bytes) and the JSON header
``X-Instagram-Rupload-Params`` (``upload_media_width``/``upload_media_height``...). After
protection both must describe the body that is really sent. ``Offset`` above 0 resumes an
upload whose start went out earlier: its bytes are the tail of a photo Veil did not see whole.
"""

from __future__ import annotations

import json
import re

from proxy.adapters.base import Adapter, Finish, Plan, UploadRequest

__all__ = ["RuploadAdapter", "rewrite_rupload_params"]

_PARAMS = "x-instagram-rupload-params"
_DIMENSION = re.compile(r'("upload_media_(width|height)"\s*:\s*)("?)(\d+)("?)')


def rewrite_rupload_params(value: str, width: int, height: int) -> str:
    """The rupload parameters with the new dimensions; every other character kept.

    >>> rewrite_rupload_params('{"upload_media_width":"1080","upload_media_height":720}', 8, 6)
    '{"upload_media_width":"8","upload_media_height":6}'
    """
    sizes = {"width": width, "height": height}
    return _DIMENSION.sub(lambda m: f"{m[1]}{m[3]}{sizes[m[2]]}{m[5]}", value)


def _is_photo(request: UploadRequest) -> bool:
    if "/rupload_igphoto/" in request.path:
        return True
    try:
        params = json.loads(request.header(_PARAMS) or "{}")
    except json.JSONDecodeError:
        return False
    return isinstance(params, dict) and str(params.get("media_type")) == "1"


class RuploadAdapter(Adapter):
    """Keeps ``X-Entity-Length`` and the announced dimensions true to the protected body."""

    name = "instagram-rupload"

    def plan(self, request: UploadRequest) -> Plan | None:
        if "/rupload_ig" not in request.path and request.header(_PARAMS) is None:
            return None
        if not _is_photo(request):
            return None
        offset = (request.header("offset") or "0").strip()
        if offset not in ("", "0"):
            return Plan(
                self.name,
                refuse=f"a resumed photo upload (Offset {offset[:20]}): its start went out "
                "before, so this tail cannot be protected",
            )
        announced = request.header("x-entity-length")
        if announced is not None and announced.strip() != str(len(request.body)):
            return Plan(
                self.name,
                refuse=f"X-Entity-Length announces {announced[:20]} bytes but the body has "
                f"{len(request.body)}: a partial photo cannot be protected",
            )
        return Plan(self.name, finish=self._finish(request))

    def _finish(self, request: UploadRequest):  # type: ignore[no-untyped-def]
        def finish(body: bytes, sizes: list[tuple[int, int]]) -> Finish:
            headers = {}
            if request.header("x-entity-length") is not None:
                headers["X-Entity-Length"] = str(len(body))
            params = request.header(_PARAMS)
            if params is not None and sizes:
                headers["X-Instagram-Rupload-Params"] = rewrite_rupload_params(params, *sizes[0])
            return Finish(headers)

        return finish
