"""X API v2 media uploads through a real `veil run` to a local HTTPS site answering as X does:
initialize / append x N / finalize (multipart or JSON segments), the v1.1-like command form on
``/2/media/upload``, the one-request upload, and the failure rule for what cannot be held."""

from __future__ import annotations

import base64
import io
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image

from proxy.adapters import (
    UploadRequest,
    XMediaAdapter,
    XMediaV2Adapter,
    default_adapters,
    plan_upload,
)
from proxy.multipart import parse_multipart
from tests.e2e import Received, VeilProcess, serve_site
from tests.proxy.platform_support import (
    PlatformSite,
    arrived,
    assert_protected,
    phone_photo,
    start_veil_for_platforms,
)
from tests.proxy.test_multipart import field, file_part, form_body

pytestmark = pytest.mark.e2e

DOMAIN = "veil-test.example"
PIXELS_HOST = f"api.x.{DOMAIN}"  # metadata + pfgsm: the arriving pixels must differ
META_HOST = f"upload.x.{DOMAIN}"  # metadata only: quick, for the shapes and the refusals
BOUNDARY = "----WebKitFormBoundaryXMediaV2"
FORM = f"multipart/form-data; boundary={BOUNDARY}"
EXPIRES = {"data": {"expires_at": 1767225600}}


class XSite(PlatformSite):
    """Answers the v2 media endpoints as X documents them, a fresh media id per initialize."""

    _ids = itertools.count(1880028106020515840)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.path.startswith("/2/media/upload"):
            return await super()._handle(request)
        body = await request.read()
        self.received.append(
            Received(request.host, request.method, request.path_qs, dict(request.headers), body)
        )
        form_command = body.partition(b'name="command"\r\n\r\n')[2][:8]
        command = request.query.get("command", "").encode() or form_command
        if request.path.endswith("/initialize") or command.startswith(b"INIT"):
            media_id = str(next(self._ids))
            data = {"id": media_id, "media_key": f"3_{media_id}", "expires_after_secs": 86400}
            return web.json_response({"data": data})
        if request.path.endswith("/append") or command.startswith(b"APPEND"):
            return web.json_response(EXPIRES)
        return web.json_response({"data": {"id": "1", "size": len(body)}})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformSite]:
    yield from serve_site(tmp_path_factory, [PIXELS_HOST, META_HOST], XSite)


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: XSite) -> Iterator[VeilProcess]:
    filters = {PIXELS_HOST: ["metadata", "pfgsm"], META_HOST: ["metadata"]}
    process = start_veil_for_platforms(tmp_path_factory.mktemp("veil-home"), site, filters)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return phone_photo()


def thirds(data: bytes) -> list[bytes]:
    cut = len(data) // 3
    return [data[:cut], data[cut : 2 * cut], data[2 * cut :]]


def initialize(client: httpx.Client, host: str, total: int, media_type: str = "image/jpeg") -> str:
    announce = {"media_type": media_type, "total_bytes": total, "media_category": "tweet_image"}
    response = client.post(f"https://{host}/2/media/upload/initialize", json=announce)
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def append(
    client: httpx.Client, host: str, media_id: str, index: int, segment: bytes, kind: str
) -> httpx.Response:
    """One v2 append: multipart ``media`` (binary) or ``media_data`` (base64), or JSON."""
    url = f"https://{host}/2/media/upload/{media_id}/append"
    if kind == "json":
        doc = {"media": base64.b64encode(segment).decode(), "segment_index": index}
        return client.post(url, json=doc)
    media = (
        field("media_data", base64.b64encode(segment))
        if kind == "media_data"
        else file_part("media", "blob", "application/octet-stream", segment)
    )
    body = form_body([field("segment_index", str(index).encode()), media], BOUNDARY)
    return client.post(url, content=body, headers={"Content-Type": FORM})


def sent_image(got: Received, kind: str) -> tuple[bytes, str]:
    """The image an append carried and its segment_index, as the site received them."""
    if kind == "json":
        doc = json.loads(got.body)
        return base64.b64decode(doc["media"]), json.dumps(doc["segment_index"])
    fields = {p.name: p.body for p in parse_multipart(got.body, BOUNDARY).parts}
    image = base64.b64decode(fields["media_data"]) if kind == "media_data" else fields["media"]
    return image, fields["segment_index"].decode()


def assert_original_never_arrived(site: XSite, pieces: list[bytes], since: int = 0) -> None:
    """No request from ``since`` on carried the original photo or a piece of it."""
    for got in site.received[since:]:
        for piece in pieces:
            assert piece not in got.body and base64.b64encode(piece) not in got.body


@pytest.mark.parametrize("kind", ["media", "media_data", "json"])
def test_x_v2_segments_arrive_whole_protected_at_total_bytes(
    veil: VeilProcess, site: XSite, photo: bytes, kind: str
) -> None:
    with veil.client() as client:
        media_id = initialize(client, PIXELS_HOST, len(photo))
        answers = [
            append(client, PIXELS_HOST, media_id, i, piece, kind)
            for i, piece in enumerate(thirds(photo))
        ]
        finalize = client.post(f"https://{PIXELS_HOST}/2/media/upload/{media_id}/finalize")
    # Held segments are answered by Veil; the one append that leaves gets X's own answer.
    held = [(a.status_code, a.headers.get("X-Veil-Held")) for a in answers[:2]]
    assert held == [(200, "segment")] * 2
    # As X answers an append: when the session expires, from initialize's 86400 s.
    expires = [a.json()["data"]["expires_at"] for a in answers[:2]]
    assert all(abs(at - time.time() - 86400) < 120 for at in expires), expires
    assert answers[2].status_code == 200 and answers[2].json() == EXPIRES
    assert finalize.status_code == 200
    prefix = f"/2/media/upload/{media_id}/"
    paths = [r.path for r in site.received if r.path.startswith(prefix)]
    assert paths == [prefix + "append", prefix + "finalize"], "one append, the whole photo"
    [got] = arrived(site, PIXELS_HOST, prefix + "append")
    image, index = sent_image(got, kind)
    assert index == "0"
    assert len(image) == len(photo), "initialize announced total_bytes: the size is kept"
    assert_protected(photo, image)  # metadata gone, same format and size, pixels changed
    assert_original_never_arrived(site, [photo, *thirds(photo)])


def test_x_v2_command_form_works_as_v1_1(veil: VeilProcess, site: XSite, photo: bytes) -> None:
    """``/2/media/upload`` with command=INIT|APPEND|FINALIZE form fields, as v1.1, but its
    INIT answer names the id as ``data.id`` (not ``media_id_string``)."""
    url = f"https://{META_HOST}/2/media/upload"
    before = len(arrived(site, META_HOST, "/2/media/upload"))

    def post(*parts: tuple[bytes, bytes]) -> httpx.Response:
        body = form_body(list(parts), BOUNDARY)
        response = client.post(url, content=body, headers={"Content-Type": FORM})
        assert response.status_code in (200, 204), response.text
        return response

    with veil.client() as client:
        init = post(
            field("command", b"INIT"),
            field("media_type", b"image/jpeg"),
            field("total_bytes", str(len(photo)).encode()),
            field("media_category", b"tweet_image"),
        )
        media_id = init.json()["data"]["id"].encode()
        answers = [
            post(
                field("command", b"APPEND"),
                field("media_id", media_id),
                field("segment_index", str(i).encode()),
                file_part("media", "blob", "application/octet-stream", piece),
            )
            for i, piece in enumerate(thirds(photo))
        ]
        post(field("command", b"FINALIZE"), field("media_id", media_id))
    assert [a.headers.get("X-Veil-Held") for a in answers] == ["segment", "segment", None]
    _, got, _ = arrived(site, META_HOST, "/2/media/upload")[before:]  # INIT, APPEND, FINALIZE
    fields = {p.name: p.body for p in parse_multipart(got.body, BOUNDARY).parts}
    sent = (fields["command"], fields["media_id"], fields["segment_index"])
    assert sent == (b"APPEND", media_id, b"0")
    assert len(fields["media"]) == len(photo)
    assert_protected(photo, fields["media"], pixels_change=False)
    assert_original_never_arrived(site, [photo])


def test_x_v2_one_request_upload_is_an_ordinary_multipart(
    veil: VeilProcess, site: XSite, photo: bytes
) -> None:
    """No command: not held, not refused, protected where it stands like any multipart."""
    parts = [
        file_part("media", "hen.jpg", "image/jpeg", photo),
        field("media_category", b"tweet_image"),
    ]
    before = len(arrived(site, META_HOST, "/2/media/upload"))
    with veil.client() as client:
        response = client.post(
            f"https://{META_HOST}/2/media/upload",
            content=form_body(parts, BOUNDARY),
            headers={"Content-Type": FORM},
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, META_HOST, "/2/media/upload")[before:]
    received = {p.name: p.body for p in parse_multipart(got.body, BOUNDARY).parts}
    assert received["media_category"] == b"tweet_image"
    assert_protected(photo, received["media"], pixels_change=False)


def bmp_photo(photo: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo)).save(buffer, "BMP")
    return buffer.getvalue()


# case -> (the reason's words, the append that is refused first)
REFUSALS = {
    "unknown id": ("did not see", 0),
    "gap": ("expected", 1),
    "oversize": ("does not fit", 0),
    "too many bytes": ("more than", 2),
    "bmp": ("BMP", 2),  # held until whole, then refused by the filters: not a photo they take
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_x_v2_what_cannot_be_held_whole_is_blocked(
    veil: VeilProcess, site: XSite, photo: bytes, case: str
) -> None:
    data = bmp_photo(photo) if case == "bmp" else photo
    pieces = thirds(data)
    total = {"oversize": 6 * 1024 * 1024, "too many bytes": len(data) - 10}.get(case, len(data))
    fmt = "bmp" if case == "bmp" else "jpeg"
    since = len(site.received)
    with veil.client() as client:
        if case == "unknown id":
            media_id = "1146654567674912769"  # never initialized through Veil
        else:
            media_id = initialize(client, META_HOST, total, f"image/{fmt}")
        order = [0, 2] if case == "gap" else [0, 1, 2]
        answers = [append(client, META_HOST, media_id, i, pieces[i], "media") for i in order]
        # The session is gone after a refusal: a segment sent again is refused as well.
        answers.append(append(client, META_HOST, media_id, 1, pieces[1], "media"))
    words, first = REFUSALS[case]
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * first + [403] * (len(answers) - first), statuses
    assert words in answers[first].headers["X-Veil-Blocked"], answers[first].headers
    assert all(a.headers.get("X-Veil-Held") == "segment" for a in answers[:first])
    assert arrived(site, META_HOST, f"/2/media/upload/{media_id}/append") == []
    assert_original_never_arrived(site, [data, *pieces], since)


# --- the adapter alone: the shapes the end-to-end tests do not send ---


def v2_request(path: str, body: bytes, content_type: str) -> UploadRequest:
    return UploadRequest("POST", META_HOST, path, headers={"content-type": content_type}, body=body)


def v2_init(total: int) -> UploadRequest:
    announce = {"total_bytes": total, "media_type": "image/jpeg"}
    return v2_request(
        "/2/media/upload/initialize", json.dumps(announce).encode(), "application/json"
    )


def test_x_v2_json_append_keeps_its_index_type_and_members(photo: bytes) -> None:
    adapter = XMediaV2Adapter()
    init = v2_init(len(photo))
    assert adapter.plan(init).watch_response  # type: ignore[union-attr]
    adapter.response(init, 200, b'{"data": {"id": "77", "media_key": "3_77"}}')
    plans = []
    for i, piece in enumerate(thirds(photo)):
        doc: dict[str, Any] = {"segment_index": str(i), "media": base64.b64encode(piece).decode()}
        path = "/2/media/upload/77/append"
        plans.append(adapter.plan(v2_request(path, json.dumps(doc).encode(), "application/json")))
    assert [p.reply for p in plans[:2]] == [200, 200]  # type: ignore[union-attr]
    # No expiry in the answer: X's documented 24 hours.
    held = json.loads(plans[0].reply_body)  # type: ignore[union-attr]
    assert abs(held["data"]["expires_at"] - time.time() - 86400) < 120
    final = plans[2]
    assert final is not None and final.exact_size and final.body is not None
    whole = json.loads(final.body)
    assert list(whole) == ["segment_index", "media"] and whole["segment_index"] == "0"
    assert base64.b64decode(whole["media"]) == photo and len(adapter.sessions) == 0


def test_x_sessions_are_shared_between_the_v2_and_command_forms(photo: bytes) -> None:
    """Media ids are X's: initialized in the path form, appended in the command form."""
    chain = default_adapters()
    init = v2_init(len(photo))
    assert plan_upload(chain, init).adapter == XMediaV2Adapter.name
    next(a for a in chain if isinstance(a, XMediaV2Adapter)).response(
        init, 200, b'{"data": {"id": "88"}}'
    )
    parts = [
        field("command", b"APPEND"),
        field("media_id", b"88"),
        field("segment_index", b"0"),
        file_part("media", "blob", "application/octet-stream", photo),
    ]
    plan = plan_upload(chain, v2_request("/2/media/upload", form_body(parts, BOUNDARY), FORM))
    assert plan.adapter == XMediaAdapter.name and plan.exact_size and plan.refuse is None
