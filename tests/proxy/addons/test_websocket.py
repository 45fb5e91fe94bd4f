"""proxy/addons/websocket.py: images sent over a WebSocket to a protected site are stopped."""

from __future__ import annotations

import base64

import pytest
from mitmproxy import websocket
from mitmproxy.test import tflow
from wsproto.frame_protocol import Opcode

from proxy.addons.websocket import WebSocketGuard
from proxy.policies import Policy
from tests.proxy.addons.conftest import SITE


def ws_flow(content: bytes, *, from_client: bool = True, host: str = SITE, text: bool = False):  # type: ignore[no-untyped-def]
    flow = tflow.twebsocketflow()
    flow.request.host = host
    flow.request.headers["host"] = host
    opcode = Opcode.TEXT if text else Opcode.BINARY
    flow.websocket.messages.append(websocket.WebSocketMessage(opcode, from_client, content))
    return flow


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("photo", False),
        ("data_url", True),
        ("json_base64", True),
    ],
)
def test_an_image_sent_over_a_websocket_is_dropped_and_audited(
    book, outcomes, store, photo, content: str, text: bool
) -> None:
    encoded = base64.b64encode(photo)
    payload = {
        "photo": photo,
        "data_url": b'{"avatar": "data:image/jpeg;base64,' + encoded + b'"}',
        "json_base64": b'{"op": "upload", "blob": "' + encoded + b'"}',
    }[content]
    flow = ws_flow(payload, text=text)
    WebSocketGuard(book, outcomes).websocket_message(flow)
    assert flow.websocket.messages[-1].dropped
    [entry], _ = store.list_audit(site=SITE)
    assert entry.outcome == "blocked" and "WebSocket" in (entry.reason or "")


def test_other_messages_and_sites_pass_and_the_policy_may_let_images_go(
    book, outcomes, store, photo
) -> None:
    guard = WebSocketGuard(book, outcomes)
    passing = [
        ws_flow(b'{"op": "typing"}', text=True),
        ws_flow(photo, from_client=False),  # the site sending an image back is not an upload
        ws_flow(photo, host="elsewhere.example"),
    ]
    for flow in passing:
        guard.websocket_message(flow)
        assert not flow.websocket.messages[-1].dropped
    assert store.list_audit(site=SITE)[1] == 0
    store.put_policy(Policy(site=SITE, filters=("metadata",), on_failure="send_original"))
    book.reload()
    allowed = ws_flow(photo)
    guard.websocket_message(allowed)
    assert not allowed.websocket.messages[-1].dropped
    assert store.list_audit(site=SITE)[0][0].outcome == "passed"
