"""Per-site upload protocols: which uploads keep their size, hold segments, or fix headers.

``default_adapters()`` lists them like mitmproxy's ``default_addons()``; ``plan_upload`` asks
each in turn and the first that recognises the request decides. Uploads that no adapter
claims (Mastodon, Bluesky, Imgur, Reddit's S3 form, Telegram...) are ordinary multipart, raw
or base64 bodies handled by ``proxy.uploads`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from proxy.adapters.base import Adapter, Finish, Plan, SessionBook, UploadRequest
from proxy.adapters.presigned import PresignedPutAdapter
from proxy.adapters.resumable import GraphResumableAdapter
from proxy.adapters.rupload import RuploadAdapter
from proxy.adapters.xmedia import XMediaAdapter
from proxy.adapters.xmedia_v2 import XMediaV2Adapter

__all__ = [
    "Adapter",
    "Finish",
    "GraphResumableAdapter",
    "Plan",
    "PresignedPutAdapter",
    "RuploadAdapter",
    "SessionBook",
    "UploadRequest",
    "XMediaAdapter",
    "XMediaV2Adapter",
    "default_adapters",
    "plan_upload",
]


def default_adapters() -> list[Adapter]:
    """Fresh adapters (they hold upload sessions), most specific first."""
    x_media = XMediaAdapter()
    return [
        RuploadAdapter(),
        x_media,
        XMediaV2Adapter(x_media.sessions),  # X's media ids, whichever API shape made them
        GraphResumableAdapter(),
        PresignedPutAdapter(),
    ]


def plan_upload(adapters: Sequence[Adapter], request: UploadRequest) -> Plan:
    """The plan of the first adapter that recognises ``request``, else the plain plan.

    A plan that watches the response carries the adapter's ``response`` for this request.
    """
    for adapter in adapters:
        plan = adapter.plan(request)
        if plan is not None:
            if plan.watch_response:
                plan = replace(plan, watcher=partial(adapter.response, request))
            return plan
    return Plan()
