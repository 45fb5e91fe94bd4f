"""Veil's mitmproxy addons, one concern each, sharing one policy book; listed by
:func:`default_addons` as mitmproxy lists its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from activities import TrackSettings
from proxy.addons.connect import ConnectOverride
from proxy.addons.passthrough import TlsPassthrough
from proxy.addons.protect import ImageProtector, UploadProtector
from proxy.addons.retention import OriginalsRetention
from proxy.addons.streaming import StreamRules
from proxy.addons.websocket import WebSocketGuard
from proxy.originals import OriginalsVault
from proxy.outcomes import Outcomes
from proxy.policybook import PolicyBook

__all__ = [
    "ConnectOverride",
    "ImageProtector",
    "OriginalsRetention",
    "StreamRules",
    "TlsPassthrough",
    "UploadProtector",
    "WebSocketGuard",
    "default_addons",
]


def default_addons(
    book: PolicyBook,
    outcomes: Outcomes,
    protector: ImageProtector,
    filters: Sequence[str],
    originals: OriginalsVault | None = None,
    keep_originals: bool = False,
    activity_settings: Callable[[], TrackSettings] | None = None,
) -> list[object]:
    """The addons of `veil run`, in hook order: ``filters`` are loaded when it starts.

    ``originals``: where originals are kept and purged at their limit; each protected
    image's and activity file's original goes into it when ``keep_originals`` is on.
    ``activity_settings``: what ``track-privacy`` hides, read for each activity upload.
    """
    kept = originals if keep_originals else None
    addons: list[object] = [
        TlsPassthrough(book),
        ConnectOverride(),
        StreamRules(book, outcomes),
        UploadProtector(
            book, outcomes, protector, filters, originals=kept, activity_settings=activity_settings
        ),
        WebSocketGuard(book, outcomes),
    ]
    if originals is not None:
        addons.append(OriginalsRetention(originals))
    return addons
