"""What becomes of an upload on a protected site: protected, or the failure rule, and always
an audit row. Shared by the addons that protect buffered bodies and guard streamed ones.

The row of an upload that left (protected, or passed by the failure rule) is written once the
site has answered, with its status, or once the flow failed, with why: the audit says an upload
reached the site only when the site said so.
"""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import http

from filters import FaceFindings, ProtectionRecord
from proxy.audit import AuditEntry
from proxy.flows import audit_entry, close_connections
from proxy.policies import Policy
from proxy.store import Store
from proxy.uploads import ImageSlot

__all__ = ["ANSWER_WAIT_S", "BLOCK_STATUS", "Outcomes"]

log = logging.getLogger(__name__)

# What a client sees when its upload was stopped: a refusal it will not retry blindly.
BLOCK_STATUS = 403
# mitmproxy gives up on no site by itself: a row waits this long for a hung one's answer
# (browsers wait about 5 minutes), then says the site had not answered.
ANSWER_WAIT_S = 300.0
# flow.metadata key: the site's answer, (status, None) or (None, why there was none).
_ANSWER = "veil.answer"


class Outcomes:
    """Applies the failure rule and writes the audit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # Rows of uploads that left, by flow id, until the site answers (or the flow fails).
        self._waiting: dict[str, tuple[http.HTTPFlow, list[AuditEntry]]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

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
        self._after_answer(flow, entry)

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
            self._audit(flow, audit_entry(flow, policy, slot, outcome, reason=reason))

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
        self._audit(flow, audit_entry(flow, policy, None, outcome, reason=reason))
        if not send:
            asyncio.get_running_loop().call_soon(close_connections, flow)
        return send

    def answered(self, flow: http.HTTPFlow) -> None:
        """The flow's response or error hook: the rows waiting on its answer are written."""
        if flow.response is not None:
            self._answer(flow, flow.response.status_code, None)
        else:
            self._answer(flow, None, flow.error.msg if flow.error else "no answer")

    def stop(self) -> None:
        """Veil stops: rows still waiting on an answer are written without one."""
        for flow, _ in list(self._waiting.values()):
            self._answer(flow, None, "Veil stopped before the site answered")

    def _answer(self, flow: http.HTTPFlow, status: int | None, error: str | None) -> None:
        # The first answer counts: a client gone after the site answered changes nothing.
        flow.metadata.setdefault(_ANSWER, (status, error))
        timer = self._timers.pop(flow.id, None)
        if timer is not None:
            timer.cancel()
        _, entries = self._waiting.pop(flow.id, (flow, []))
        for entry in entries:
            self._after_answer(flow, entry)

    def _audit(self, flow: http.HTTPFlow, entry: AuditEntry) -> None:
        if entry.outcome == "blocked":  # never sent: nothing to wait for
            entry.delivered = False
            self.store.add_audit(entry)
        else:
            self._after_answer(flow, entry)

    def _after_answer(self, flow: http.HTTPFlow, entry: AuditEntry) -> None:
        """Write the row now if the site has answered, else when it does."""
        answer = flow.metadata.get(_ANSWER)
        if answer is not None:
            entry.upstream_status, entry.upstream_error = answer
            entry.delivered = answer[0] is not None
            self.store.add_audit(entry)
            return
        if flow.id not in self._waiting:
            self._waiting[flow.id] = (flow, [])
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # called outside the loop (a test): stop() still writes it
                pass
            else:
                late = f"the site had not answered after {ANSWER_WAIT_S:g} s"
                self._timers[flow.id] = loop.call_later(
                    ANSWER_WAIT_S, self._answer, flow, None, late
                )
        self._waiting[flow.id][1].append(entry)
