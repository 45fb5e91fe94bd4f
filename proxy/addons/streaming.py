"""Which bodies stream and which are held: unprotected requests and all responses stream;
a protected upload is buffered whole, or, when too large to hold, streamed through a
:class:`~proxy.streamguard.StreamGuard` that lets no image out."""

from __future__ import annotations

from mitmproxy import http

from proxy.flows import WATCHED, flow_hosts
from proxy.outcomes import Outcomes
from proxy.policybook import PolicyBook
from proxy.streamguard import StreamGuard, should_stream

__all__ = ["StreamRules"]


class StreamRules:
    def __init__(self, book: PolicyBook, outcomes: Outcomes) -> None:
        self.book = book
        self.outcomes = outcomes

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        policy = self.book.policy_for(*flow_hosts(flow))
        if policy is None:
            flow.request.stream = True  # unprotected: never buffer it
            return
        length = flow.request.headers.get("content-length", "")
        if should_stream(int(length) if length.strip().isdigit() else None):
            headers = flow.request.headers
            flow.request.stream = StreamGuard(
                headers.get("content-type"),
                headers.get("content-encoding"),
                lambda reason: self.outcomes.streamed_image(flow, policy, reason),
            )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Responses are never rewritten; an adapter that reads one has it buffered.
        if flow.response is not None and WATCHED not in flow.metadata:
            flow.response.stream = True
