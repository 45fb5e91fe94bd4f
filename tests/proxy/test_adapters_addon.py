"""The addon with its adapters and stream guard, hooks called directly on test flows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from filters import Protector
from proxy.addon import VeilAddon
from proxy.multipart import parse_multipart
from proxy.policies import Policy
from proxy.settings import load_settings
from proxy.store import Store
from proxy.streamguard import MAX_BUFFERED_BODY, StreamGuard
from tests.conftest import imagenet_photo, jpeg_with_private_metadata
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body

SITE = "upload.example.com"


@pytest.fixture(scope="module")
def protector() -> Protector:
    protector = Protector()
    protector.load(["metadata"])
    return protector


@pytest.fixture
def addon(tmp_path: Path, protector: Protector) -> Iterator[VeilAddon]:
    store = Store.open(tmp_path / "veil.db", seed_defaults=False)
    store.put_policy(Policy(site=SITE, filters=("metadata",), profile="none"))
    yield VeilAddon(store, protector, load_settings(tmp_path / "home"))
    store.close()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(imagenet_photo("n01514859_hen"), size=(80, 60))


def flow_for(path: str, body: bytes = b"", host: str = SITE, **headers: str) -> http.HTTPFlow:
    request = tutils.treq(host=host, port=443, method=b"POST", path=path.encode(), content=b"")
    request.headers.clear()
    request.headers.update(headers)
    request.raw_content = body
    return tflow.tflow(req=request)


def test_streaming_is_decided_per_flow(addon: VeilAddon) -> None:
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
        large = flow_for("/x", **{"Content-Length": str(MAX_BUFFERED_BODY + 1)})
        addon.requestheaders(large)
        assert isinstance(large.request.stream, StreamGuard)


async def test_rupload_headers_follow_the_protected_body(addon: VeilAddon, photo: bytes) -> None:
    params = '{"media_type":1,"upload_id":"9","upload_media_width":80,"upload_media_height":60}'
    headers = {"X-Entity-Length": str(len(photo)), "X-Instagram-Rupload-Params": params}
    with taddons.context(addon):
        flow = flow_for("/rupload_igphoto/fb_uploader_9", photo, **headers)
        await addon.request(flow)
    assert flow.response is None
    sent = flow.request.raw_content
    assert sent != photo and int(flow.request.headers["X-Entity-Length"]) == len(sent)
    assert flow.request.headers["X-Instagram-Rupload-Params"] == params  # same dimensions


async def test_x_segments_are_answered_then_sent_whole(addon: VeilAddon, photo: bytes) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    multipart = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with taddons.context(addon):
        init = flow_for(
            "/1.1/media/upload.json", f"command=INIT&total_bytes={len(photo)}".encode(), **form
        )
        await addon.request(init)
        init.response = tutils.tresp(content=json.dumps({"media_id_string": "55"}).encode())
        addon.responseheaders(init)
        assert not init.response.stream, "the INIT answer is read for its media_id"
        addon.response(init)
        half = len(photo) // 2
        flows = []
        for index, segment in enumerate([photo[:half], photo[half:]]):
            parts = [
                field("command", b"APPEND"),
                field("media_id", b"55"),
                field("segment_index", str(index).encode()),
                file_part("media", "blob", "application/octet-stream", segment),
            ]
            flows.append(flow_for("/1.1/media/upload.json", form_body(parts), **multipart))
            await addon.request(flows[-1])
    assert flows[0].response is not None and flows[0].response.status_code == 204
    assert flows[1].response is None
    sent = {p.name: p.body for p in parse_multipart(flows[1].request.raw_content, BOUNDARY).parts}
    assert sent["segment_index"] == b"0" and len(sent["media"]) == len(photo)
    assert sent["media"] != photo and sent["media"].startswith(b"\xff\xd8\xff")
