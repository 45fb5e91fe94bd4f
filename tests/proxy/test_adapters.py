"""Site adapters: which uploads keep their size, which segments are held, which are refused."""

from __future__ import annotations

import base64
import json

import pytest

from proxy import adapters
from proxy.adapters import (
    GraphResumableAdapter,
    PresignedPutAdapter,
    RuploadAdapter,
    UploadRequest,
    XMediaAdapter,
    default_adapters,
    plan_upload,
)
from proxy.multipart import parse_multipart
from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body

FORM = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(64, 48))


def req(method: str, path: str, body: bytes = b"", query=(), **headers: str) -> UploadRequest:
    """A request; header names keep an underscore only where the protocol has one."""
    lowered = {
        name if name == "file_offset" else name.replace("_", "-"): value
        for name, value in headers.items()
    }
    return UploadRequest(method, "example.test", path, tuple(query), lowered, body)


def rupload_request(photo: bytes, offset: str = "0", length: int | None = None) -> UploadRequest:
    params = (
        '{"media_type":1,"upload_id":"1717","upload_media_height":"48","upload_media_width":64}'
    )
    return req(
        "POST",
        "/rupload_igphoto/fb_uploader_1717",
        photo,
        content_type="image/jpeg",
        x_entity_length=str(len(photo) if length is None else length),
        x_entity_name="fb_uploader_1717",
        x_instagram_rupload_params=params,
        offset=offset,
    )


def test_rupload_rewrites_length_and_dimensions(photo: bytes) -> None:
    plan = plan_upload(default_adapters(), rupload_request(photo))
    assert plan.adapter == "instagram-rupload" and plan.refuse is None and plan.finish
    finish = plan.finish(b"x" * 1234, [(32, 24)])
    assert finish.headers["X-Entity-Length"] == "1234"
    params = json.loads(finish.headers["X-Instagram-Rupload-Params"])
    assert (params["upload_media_width"], params["upload_media_height"]) == (32, "24")
    assert params["upload_id"] == "1717"


def test_rupload_resumed_or_partial_photo_is_refused(photo: bytes) -> None:
    resumed = rupload_request(photo, offset="4096")
    assert "resumed" in (RuploadAdapter().plan(resumed).refuse or "")
    partial = rupload_request(photo[:1000], length=len(photo))
    assert "partial" in (RuploadAdapter().plan(partial).refuse or "")


def test_rupload_video_is_not_this_adapters_business() -> None:
    video = req(
        "POST", "/rupload_igvideo/abc", b"\x00" * 64, x_instagram_rupload_params='{"media_type":2}'
    )
    assert RuploadAdapter().plan(video) is None


def x_init(adapter: XMediaAdapter, total: int, media_type: str = "image/jpeg") -> str:
    body = f"command=INIT&total_bytes={total}&media_type={media_type.replace('/', '%2F')}"
    init = req("POST", "/1.1/media/upload.json", body.encode(), content_type=URLENCODED)
    plan = adapter.plan(init)
    assert plan is not None and plan.watch_response
    adapter.response(init, 202, b'{"media_id": 710511363345354753, "media_id_string": "7105"}')
    return "7105"


def x_append(
    media_id: str, index: int, segment: bytes, *, base64_field: bool = False
) -> UploadRequest:
    media = (
        field("media_data", base64.b64encode(segment))
        if base64_field
        else file_part("media", "blob", "application/octet-stream", segment)
    )
    body = form_body(
        [
            field("command", b"APPEND"),
            field("media_id", media_id.encode()),
            field("segment_index", str(index).encode()),
            media,
        ]
    )
    return req("POST", "/1.1/media/upload.json", body, content_type=FORM)


@pytest.mark.parametrize("base64_field", [False, True])
def test_x_segments_are_held_then_sent_whole_at_the_announced_size(
    photo: bytes, base64_field: bool
) -> None:
    adapter = XMediaAdapter()
    media_id = x_init(adapter, len(photo))
    cut = len(photo) // 3
    pieces = [photo[:cut], photo[cut : 2 * cut], photo[2 * cut :]]
    plans = [
        adapter.plan(x_append(media_id, i, p, base64_field=base64_field))
        for i, p in enumerate(pieces)
    ]
    assert [p.reply for p in plans[:2]] == [204, 204]
    final = plans[2]
    assert final.exact_size and final.refuse is None and final.reply is None
    parts = {p.name: p.body for p in parse_multipart(final.body, BOUNDARY).parts}
    assert parts["segment_index"] == b"0"
    whole = base64.b64decode(parts["media_data"]) if base64_field else parts["media"]
    assert whole == photo
    assert len(adapter.sessions) == 0


def test_x_gap_unknown_session_and_oversize_fall_under_the_rule(photo: bytes) -> None:
    adapter = XMediaAdapter()
    media_id = x_init(adapter, len(photo))
    assert "expected" in (adapter.plan(x_append(media_id, 1, photo[100:])).refuse or "")
    assert "did not see" in (adapter.plan(x_append("999", 0, photo)).refuse or "")
    big = x_init(XMediaAdapter(), 10, "image/jpeg")  # a fresh adapter: sizes below
    adapter = XMediaAdapter()
    big = x_init(adapter, 6 * 1024 * 1024)
    assert "does not fit" in (adapter.plan(x_append(big, 0, photo)).refuse or "")


def test_x_video_segments_pass_and_finalize_forgets(photo: bytes) -> None:
    adapter = XMediaAdapter()
    media_id = x_init(adapter, 10_000, "video/mp4")
    plan = adapter.plan(x_append(media_id, 0, b"\x00\x00\x00\x18ftypisom" + bytes(100)))
    assert plan is not None and plan.reply is None and plan.refuse is None and not plan.exact_size
    finalize = req(
        "POST", "/1.1/media/upload.json", query=[("command", "FINALIZE"), ("media_id", media_id)]
    )
    assert adapter.plan(finalize) is not None and len(adapter.sessions) == 0


def test_x_init_claiming_video_but_sending_a_photo_is_held(photo: bytes) -> None:
    adapter = XMediaAdapter()
    media_id = x_init(adapter, len(photo), "video/mp4")
    assert adapter.plan(x_append(media_id, 0, photo[:500])).reply == 204


def test_x_video_claim_with_a_first_segment_too_short_to_tell_is_refused(photo: bytes) -> None:
    adapter = XMediaAdapter()
    media_id = x_init(adapter, len(photo), "video/mp4")
    # Two bytes of a JPEG cannot be told from a video; the rest must not pass either.
    assert "too short" in (adapter.plan(x_append(media_id, 0, photo[:2])).refuse or "")
    assert "did not see" in (adapter.plan(x_append(media_id, 1, photo[2:])).refuse or "")
    skipped = x_init(adapter, len(photo), "video/mp4")
    assert "first segment" in (adapter.plan(x_append(skipped, 1, photo[100:])).refuse or "")


def test_graph_resumable_size_preserving_and_resume_refused(photo: bytes) -> None:
    adapter = GraphResumableAdapter()
    start = req(
        "POST",
        "/v19.0/12345/uploads",
        query=[("file_length", str(len(photo))), ("file_type", "image/jpeg")],
    )
    assert adapter.plan(start).watch_response
    adapter.response(start, 200, b'{"id": "upload:MTphdHRh"}')
    send = req("POST", "/v19.0/upload:MTphdHRh", photo, file_offset="0")
    assert adapter.plan(send).exact_size
    tail = req("POST", "/v19.0/upload:MTphdHRh", photo[100:], file_offset="100")
    assert "resumed" in (adapter.plan(tail).refuse or "")
    short = req("POST", "/v19.0/upload:MTphdHRh", photo[:100], file_offset="0")
    assert "partial" in (adapter.plan(short).refuse or "")


def test_graph_resumable_video_tail_passes() -> None:
    adapter = GraphResumableAdapter()
    start = req(
        "POST", "/v19.0/1/uploads", query=[("file_length", "9000"), ("file_type", "video/mp4")]
    )
    adapter.plan(start)
    adapter.response(start, 200, b'{"id": "upload:VID"}')
    plan = adapter.plan(req("POST", "/v19.0/upload:VID", bytes(100), file_offset="4000"))
    assert plan is not None and plan.refuse is None


def test_signed_put_keeps_the_size_and_refuses_pieces(photo: bytes) -> None:
    adapter = PresignedPutAdapter()
    discord = req("PUT", "/discord/123/IMG.jpg", photo, query=[("upload_id", "ABCD")])
    assert adapter.plan(discord).exact_size
    first = req(
        "PUT",
        "/obj",
        photo[:500],
        query=[("upload_id", "Z")],
        content_range=f"bytes 0-499/{len(photo)}",
    )
    assert "part of a photo" in (adapter.plan(first).refuse or "")
    rest = req(
        "PUT",
        "/obj",
        photo[500:],
        query=[("upload_id", "Z")],
        content_range=f"bytes 500-{len(photo) - 1}/{len(photo)}",
    )
    assert "later piece" in (adapter.plan(rest).refuse or "")
    assert adapter.plan(req("PUT", "/plain", photo)) is None


def test_ordinary_uploads_get_the_plain_plan(photo: bytes) -> None:
    for request in [
        req(
            "POST",
            "/api/v2/media",
            form_body([file_part("file", "a.jpg", "image/jpeg", photo)]),
            content_type=FORM,
        ),
        req("POST", "/xrpc/com.atproto.repo.uploadBlob", photo, content_type="image/jpeg"),
        req("POST", "/bot123:ABC/sendPhoto", b"", content_type=FORM),
    ]:
        plan = plan_upload(default_adapters(), request)
        assert plan.adapter is None and not plan.exact_size and plan.refuse is None


def test_package_surface() -> None:
    for name in adapters.__all__:
        assert hasattr(adapters, name)
