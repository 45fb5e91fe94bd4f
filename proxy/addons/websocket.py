"""WebSocket messages to a protected site: one that carries an image (binary, base64 or a data
URL) gets the failure rule. Veil rewrites images in HTTP bodies only, so an image that goes
out over a WebSocket is stopped (or, where the policy says so, sent and audited as passed).
"""

from __future__ import annotations

from mitmproxy import http

from proxy.flows import flow_hosts
from proxy.outcomes import Outcomes
from proxy.policybook import PolicyBook
from proxy.shapes.traces import find_image_trace

__all__ = ["WebSocketGuard"]


class WebSocketGuard:
    def __init__(self, book: PolicyBook, outcomes: Outcomes) -> None:
        self.book = book
        self.outcomes = outcomes

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        if not message.from_client:
            return
        policy = self.book.policy_for(*flow_hosts(flow))
        if policy is None:
            return
        # A whole image, or one after a prefix, as base64 or a data URL: all are traces.
        trace = find_image_trace([("the WebSocket message", message.content)])
        if trace is None:
            return
        if not self.outcomes.websocket_image(flow, policy, f"cannot protect {trace.describe()}"):
            message.drop()
