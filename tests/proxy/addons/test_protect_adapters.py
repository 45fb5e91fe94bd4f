"""proxy/addons/protect.py with the site adapters: kept sizes and held segments."""

from __future__ import annotations

import json

from mitmproxy.test import taddons, tutils

from proxy.addons.protect import UploadProtector
from proxy.flows import WATCHED
from proxy.multipart import parse_multipart
from tests.proxy.addons.conftest import FakeProtector, flow_for
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body


async def test_rupload_headers_follow_the_protected_body(book, outcomes, photo) -> None:
    addon = UploadProtector(book, outcomes, FakeProtector(), ["metadata"])
    params = '{"media_type":1,"upload_id":"9","upload_media_width":160,"upload_media_height":120}'
    headers = {"X-Entity-Length": str(len(photo)), "X-Instagram-Rupload-Params": params}
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/rupload_igphoto/fb_uploader_9", photo, **headers)
        await addon.request(flow)
        await addon.measured()
    assert flow.response is None
    sent = flow.request.raw_content
    assert sent != photo and int(flow.request.headers["X-Entity-Length"]) == len(sent)
    assert flow.request.headers["X-Instagram-Rupload-Params"] == params  # same dimensions


async def test_x_segments_are_answered_then_sent_whole(book, outcomes, photo) -> None:
    addon = UploadProtector(book, outcomes, FakeProtector(), ["metadata"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    multipart = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with taddons.context(addon):
        await addon.running()
        init = flow_for(
            "/1.1/media/upload.json", f"command=INIT&total_bytes={len(photo)}".encode(), **form
        )
        await addon.request(init)
        await addon.measured()
        assert WATCHED in init.metadata, "the INIT answer is read for its media_id"
        init.response = tutils.tresp(content=json.dumps({"media_id_string": "55"}).encode())
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
