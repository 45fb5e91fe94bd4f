"""Raw PUTs to signed storage URLs (Discord attachments, S3 and GCS presigned uploads).

Discord announces ``file_size`` in its ``attachments`` request before the PUT to the storage
URL it gets back; S3 and GCS signatures can cover the length too. So a photo PUT to a signed
URL keeps its exact byte length. A ``Content-Range`` that does not cover the whole photo is a
piece of it and cannot be protected alone; later pieces of such an upload are refused too.
"""

from __future__ import annotations

import re

from filters.codecs.formats import sniff_format
from proxy.adapters.base import Adapter, Plan, SessionBook, UploadRequest

__all__ = ["PresignedPutAdapter"]

# Query parameters that make a URL a signed upload target.
_SIGNED = {"upload_id", "x-amz-signature", "x-goog-signature", "signature", "sig", "uploadid"}
_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class PresignedPutAdapter(Adapter):
    """Size-preserving protection for raw uploads to signed URLs."""

    name = "signed-put"

    def __init__(self) -> None:
        self.partial_images: SessionBook[bool] = SessionBook()

    def plan(self, request: UploadRequest) -> Plan | None:
        if request.method not in ("PUT", "POST") or request.media_type.startswith("multipart/"):
            return None
        if not {name.lower() for name, _ in request.query} & _SIGNED:
            return None
        key = f"{request.host}{request.path}"
        content_range = request.header("content-range")
        match = _RANGE.match(content_range.strip()) if content_range else None
        if match is None:
            return Plan(self.name, exact_size=True)
        first, last, total = int(match[1]), int(match[2]), match[3]
        if first > 0:
            if self.partial_images.get(key):
                return Plan(self.name, refuse="a later piece of a photo sent in pieces")
            return Plan(self.name)  # a piece of a file whose start held no image
        if total != str(last + 1) and sniff_format(request.body) is not None:
            self.partial_images.put(key, True)
            return Plan(
                self.name,
                refuse=f"Content-Range {content_range[:60]} carries only part of a photo",
            )
        return Plan(self.name, exact_size=True)
