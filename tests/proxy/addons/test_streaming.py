"""proxy/addons/streaming.py: which bodies stream, which are held, and the stream guard."""

from __future__ import annotations

import asyncio

from mitmproxy.test import taddons, tutils

from proxy.addons.streaming import StreamRules
from proxy.flows import WATCHED
from proxy.policies import Policy
from proxy.streamguard import MAX_BUFFERED_BODY, StreamGuard
from tests.proxy.addons.conftest import SITE, flow_for


def test_streaming_is_decided_per_flow(book, outcomes):
    addon = StreamRules(book, outcomes)
    with taddons.context(addon):
        unprotected = flow_for("/x", host="elsewhere.example")
        addon.requestheaders(unprotected)
        assert unprotected.request.stream is True
        small = flow_for("/x", **{"Content-Length": str(MAX_BUFFERED_BODY)})
        addon.requestheaders(small)
        assert small.request.stream is False
        chunked = flow_for("/x", **{"Transfer-Encoding": "chunked"})
        addon.requestheaders(chunked)
        assert chunked.request.stream is False, "a chunked photo must be buffered and protected"
        # Past the cap mitmproxy switches the buffered body to a plain stream: a guard instead.
        chunked.request.stream = True
        assert isinstance(chunked.request.stream, StreamGuard)
        assert "unknown size" in chunked.request.stream.why
        large = flow_for("/x", **{"Content-Length": str(MAX_BUFFERED_BODY + 1)})
        addon.requestheaders(large)
        assert isinstance(large.request.stream, StreamGuard)


def test_disabled_policies_and_other_hosts_stream(book, outcomes, store):
    store.put_policy(Policy(site="*.off.example", enabled=False))
    book.reload()
    addon = StreamRules(book, outcomes)
    with taddons.context(addon):
        for host in ("elsewhere.example", "a.off.example", f"cdn.{SITE}"):
            flow = flow_for("/x", b"x", host=host)
            addon.requestheaders(flow)
            assert flow.request.stream is True, host


def test_responses_stream_unless_an_adapter_reads_them(book, outcomes):
    addon = StreamRules(book, outcomes)
    with taddons.context(addon):
        plain, watched = flow_for("/x"), flow_for("/x")
        watched.metadata[WATCHED] = lambda status, body: None
        for flow in (plain, watched):
            flow.response = tutils.tresp()
            addon.responseheaders(flow)
    assert plain.response.stream is True and watched.response.stream is False


async def test_an_image_in_a_streamed_body_gets_the_failure_rule(book, outcomes, store, photo):
    addon = StreamRules(book, outcomes)
    with taddons.context(addon):
        flow = flow_for("/x", **{"Content-Length": str(MAX_BUFFERED_BODY + 1)})
        addon.requestheaders(flow)
        guard = flow.request.stream
        assert isinstance(guard, StreamGuard)
        assert guard(photo[:4096]) == [], "no byte of the image may leave"
        await asyncio.sleep(0)  # the connections are cut on the next turn of the loop
    assert flow.error is not None and flow.error.msg == "Connection killed."
    [entry], _ = store.list_audit()
    assert entry.outcome == "blocked" and "JPEG" in (entry.reason or "")
