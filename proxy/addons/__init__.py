"""Veil's mitmproxy addons, one concern each, sharing one policy book; listed by
:func:`default_addons` as mitmproxy lists its own."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.addons.connect import ConnectOverride
from proxy.addons.passthrough import TlsPassthrough
from proxy.addons.protect import ImageProtector, UploadProtector
from proxy.addons.streaming import StreamRules
from proxy.addons.websocket import WebSocketGuard
from proxy.outcomes import Outcomes
from proxy.policybook import PolicyBook

__all__ = [
    "ConnectOverride",
    "ImageProtector",
    "StreamRules",
    "TlsPassthrough",
    "UploadProtector",
    "WebSocketGuard",
    "default_addons",
]


def default_addons(
    book: PolicyBook, outcomes: Outcomes, protector: ImageProtector, filters: Sequence[str]
) -> list[object]:
    """The addons of `veil run`, in hook order: ``filters`` are loaded when it starts."""
    return [
        TlsPassthrough(book),
        ConnectOverride(),
        StreamRules(book, outcomes),
        UploadProtector(book, outcomes, protector, filters),
        WebSocketGuard(book, outcomes),
    ]
