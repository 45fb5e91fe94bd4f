"""Which bodies stream and which are held: unprotected requests and all responses stream;
a protected upload is buffered whole, or, when too large to hold or of unknown size,
streamed through a :class:`~proxy.streamguard.StreamGuard` that lets no image out."""

from __future__ import annotations

from collections.abc import Callable

from mitmproxy import http

from proxy.flows import WATCHED, flow_hosts
from proxy.outcomes import Outcomes
from proxy.policybook import PolicyBook
from proxy.streamguard import MAX_BUFFERED_BODY, StreamGuard, should_stream

__all__ = ["STREAM_LARGE_BODIES", "StreamRules"]

CAP_MIB = MAX_BUFFERED_BODY >> 20
# mitmproxy's option: a buffered body of unknown size streams past this (see _CappedRequest).
STREAM_LARGE_BODIES = f"{CAP_MIB}m"


class _CappedRequest(http.Request):
    """A protected request of unknown size. mitmproxy buffers it until it passes the
    ``stream_large_bodies`` option, then sets ``stream = True`` and forwards the rest as it
    comes, with no hook in between: here that switch installs a guard instead, so the body
    never takes more than the cap and no image leaves unprotected."""

    _guard: Callable[[], StreamGuard]

    @property  # type: ignore[override]
    def stream(self) -> object:
        return self.__dict__.get("stream", False)

    @stream.setter
    def stream(self, value: object) -> None:
        self.__dict__["stream"] = self._guard() if value is True else value


class StreamRules:
    def __init__(self, book: PolicyBook, outcomes: Outcomes) -> None:
        self.book = book
        self.outcomes = outcomes

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        policy = self.book.policy_for(*flow_hosts(flow))
        if policy is None:
            flow.request.stream = True  # unprotected: never buffer it
            return
        headers = flow.request.headers
        length = headers.get("content-length", "")

        def guard(why: str) -> StreamGuard:
            return StreamGuard(
                headers.get("content-type"),
                headers.get("content-encoding"),
                lambda reason: self.outcomes.streamed_image(flow, policy, reason),
                why,
            )

        if should_stream(int(length) if length.strip().isdigit() else None):
            flow.request.stream = guard("an upload too large to buffer")
        elif not length.strip():
            # Unsized (chunked): buffered and protected up to the cap, a guarded stream past it.
            flow.request.__class__ = _CappedRequest
            flow.request._guard = lambda: guard(f"an upload of unknown size over {CAP_MIB} MiB")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Responses are never rewritten; an adapter that reads one has it buffered.
        if flow.response is not None and WATCHED not in flow.metadata:
            flow.response.stream = True
