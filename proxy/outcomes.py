"""What becomes of an upload on a protected site: protected, or the failure rule, and always
an audit row. Shared by the addons that protect buffered bodies and guard streamed ones."""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import http

from filters import FaceFindings, ProtectionRecord
from proxy.flows import audit_entry, close_connections
from proxy.policies import Policy
from proxy.store import Store
from proxy.uploads import ImageSlot

__all__ = ["BLOCK_STATUS", "Outcomes"]

log = logging.getLogger(__name__)

# What a client sees when its upload was stopped: a refusal it will not retry blindly.
BLOCK_STATUS = 403


class Outcomes:
    """Applies the failure rule and writes the audit."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def protected(
        self,
        flow: http.HTTPFlow,
        policy: Policy,
        slot: ImageSlot,
        record: ProtectionRecord | None,
        faces: FaceFindings | None = None,
    ) -> None:
        """One image of ``flow`` left protected (``record``: what measuring it found;
        ``faces``: what the face filters found)."""
        entry = audit_entry(flow, policy, slot, "protected", record=record, faces=faces)
        self.store.add_audit(entry)

    def fail(
        self, flow: http.HTTPFlow, policy: Policy, slots: list[ImageSlot], reason: str
    ) -> None:
        """The policy's failure rule: block (the original never leaves) or send it as is."""
        blocked = policy.on_failure == "block"
        log.warning(
            "protection failed for %s %s: %s (%s)",
            flow.request.method,
            flow.request.pretty_host,
            reason,
            "blocked" if blocked else "original sent, as the policy allows",
        )
        if blocked:
            text = (
                f"Veil blocked this upload to {flow.request.pretty_host}: {reason}. "
                "The original photo was not sent.\n"
            )
            flow.response = http.Response.make(
                BLOCK_STATUS,
                text.encode(),
                {
                    "Content-Type": "text/plain; charset=utf-8",
                    "X-Veil-Blocked": reason.encode("ascii", "replace").decode()[:200],
                },
            )
        outcome = "blocked" if blocked else "passed"
        for slot in slots or [None]:
            self.store.add_audit(audit_entry(flow, policy, slot, outcome, reason=reason))

    def websocket_image(self, flow: http.HTTPFlow, policy: Policy, reason: str) -> bool:
        """A WebSocket message carries an image: the failure rule for that message.

        Returns whether it may go (``send_original``); otherwise the caller drops it.
        """
        send = policy.on_failure == "send_original"
        log.warning(
            "WebSocket to %s: %s (%s)",
            flow.request.pretty_host,
            reason,
            "sent, as the policy allows" if send else "message dropped",
        )
        entry = audit_entry(flow, policy, None, "passed" if send else "blocked", reason=reason)
        self.store.add_audit(entry)
        return send

    def streamed_image(self, flow: http.HTTPFlow, policy: Policy, reason: str) -> bool:
        """A stream guard found an image it cannot protect: the failure rule, mid-stream.

        Returns whether the rest of the body may go (``send_original``); otherwise both
        connections are cut, since the site already has the request's headers.
        """
        send = policy.on_failure == "send_original"
        log.warning(
            "%s %s: %s (%s)",
            flow.request.method,
            flow.request.pretty_host,
            reason,
            "original sent, as the policy allows" if send else "connection closed",
        )
        outcome = "passed" if send else "blocked"
        self.store.add_audit(audit_entry(flow, policy, None, outcome, reason=reason))
        if not send:
            asyncio.get_running_loop().call_soon(close_connections, flow)
        return send
