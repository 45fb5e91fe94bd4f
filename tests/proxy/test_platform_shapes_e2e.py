"""Each platform's upload, reproduced as documented, through a real `veil run` to a local
HTTPS site that checks what arrives: the image decodes, its metadata is gone, announced sizes
and headers agree with the body, and every other field is byte-identical."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import quote_from_bytes, unquote_to_bytes

import pytest

from proxy.multipart import parse_multipart
from tests.e2e import VeilProcess
from tests.proxy.platform_support import (
    FB_SESSION,
    HOSTS,
    X_MEDIA_ID,
    PlatformSite,
    arrived,
    assert_protected,
    phone_photo,
    serve_platforms,
    start_veil_for_platforms,
)
from tests.proxy.test_multipart import field, file_part, form_body

pytestmark = pytest.mark.e2e

BOUNDARY = "----WebKitFormBoundaryVeilShapes01"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformSite]:
    yield from serve_platforms(tmp_path_factory)


@pytest.fixture(scope="module")
def photo() -> bytes:
    return phone_photo()


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, site: PlatformSite) -> Iterator[VeilProcess]:
    process = start_veil_for_platforms(tmp_path_factory.mktemp("veil-home"), site)
    yield process
    process.stop()


def post_form(veil: VeilProcess, url: str, parts: list, method: str = "POST"):
    body = form_body(parts, BOUNDARY)
    with veil.client() as client:
        response = client.request(method, url, content=body, headers={"Content-Type": FORM})
    assert response.status_code in (200, 201, 204), response.text
    return body


def assert_form_kept(sent: bytes, received: bytes, image_field: str, original: bytes) -> bytes:
    """Every part but the image byte-identical and in order; returns the image received."""
    before = parse_multipart(sent, BOUNDARY)
    after = parse_multipart(received, BOUNDARY)
    assert [p.head for p in after.parts] == [p.head for p in before.parts]
    image = b""
    for old, new in zip(before.parts, after.parts, strict=True):
        if old.name == image_field:
            image = new.body
        else:
            assert new.to_bytes() == old.to_bytes()
    assert (after.preamble, after.close, after.epilogue) == (
        before.preamble,
        before.close,
        before.epilogue,
    )
    assert_protected(original, image)
    return image


def test_mastodon_media_multipart(veil: VeilProcess, site: PlatformSite, photo: bytes) -> None:
    host = HOSTS["mastodon"]
    parts = [
        file_part("file", "IMG_2041.jpg", "image/jpeg", photo),
        field("description", "A hen in the garden \xe2\x80\x94 alt text".encode()),
        field("focus", b"0.0,0.3"),
    ]
    sent = post_form(veil, f"https://{host}/api/v2/media", parts)
    [got] = arrived(site, host, "/api/v2/media")
    assert_form_kept(sent, got.body, "file", photo)
    assert int(got.headers["Content-Length"]) == len(got.body)


def test_bluesky_upload_blob_raw(veil: VeilProcess, site: PlatformSite, photo: bytes) -> None:
    host = HOSTS["bluesky"]
    with veil.client() as client:
        response = client.post(
            f"https://{host}/xrpc/com.atproto.repo.uploadBlob",
            content=photo,
            headers={"Content-Type": "image/jpeg", "Authorization": "Bearer jwt"},
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, host, "/xrpc/com.atproto.repo.uploadBlob")
    assert_protected(photo, got.body)
    assert got.headers["Authorization"] == "Bearer jwt"
    assert int(got.headers["Content-Length"]) == len(got.body)


def test_imgur_binary_and_base64(veil: VeilProcess, site: PlatformSite, photo: bytes) -> None:
    host = HOSTS["imgur"]
    parts = [
        file_part("image", "hen.jpg", "image/jpeg", photo),
        field("type", b"file"),
        field("title", b"Hen"),
    ]
    sent = post_form(veil, f"https://{host}/3/image", parts)
    assert_form_kept(sent, arrived(site, host, "/3/image")[0].body, "image", photo)
    encoded = quote_from_bytes(base64.b64encode(photo), safe="").encode()
    body = b"image=" + encoded + b"&type=base64&title=Hen%20two"
    with veil.client() as client:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        assert (
            client.post(f"https://{host}/3/image", content=body, headers=headers).status_code == 200
        )
    got = arrived(site, host, "/3/image")[1].body
    assert got.startswith(b"image=") and got.endswith(b"&type=base64&title=Hen%20two")
    value = got[len(b"image=") : -len(b"&type=base64&title=Hen%20two")]
    assert_protected(photo, base64.b64decode(unquote_to_bytes(value)))


def test_reddit_s3_form_keeps_field_order(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["reddit"]
    names = [
        "acl",
        "key",
        "X-Amz-Credential",
        "X-Amz-Algorithm",
        "X-Amz-Date",
        "success_action_status",
        "content-type",
        "x-amz-storage-class",
        "x-amz-meta-ext",
        "policy",
        "X-Amz-Signature",
        "x-amz-security-token",
    ]
    parts = [field(name, f"value-of-{name}".encode()) for name in names]
    parts.append(file_part("file", "hen.jpg", "image/jpeg", photo))
    sent = post_form(veil, f"https://{host}/", parts)
    got = arrived(site, host, "/")[0].body
    assert [p.name for p in parse_multipart(got, BOUNDARY).parts] == [*names, "file"]
    assert_form_kept(sent, got, "file", photo)


def test_telegram_send_photo(veil: VeilProcess, site: PlatformSite, photo: bytes) -> None:
    host = HOSTS["telegram"]
    path = "/bot123456:ABC-DEF1234ghIkl/sendPhoto"
    parts = [
        field("chat_id", b"-1001234567890"),
        file_part("photo", "hen.jpg", "image/jpeg", photo),
        field("caption", b"Look \xf0\x9f\x90\x94"),
    ]
    sent = post_form(veil, f"https://{host}{path}", parts)
    assert_form_kept(sent, arrived(site, host, path)[0].body, "photo", photo)


def test_instagram_rupload_length_and_dimensions_agree(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["instagram"]
    params = {
        "media_type": 1,
        "upload_id": "1717171717",
        "upload_media_height": 72,
        "upload_media_width": 96,
        "image_compression": '{"lib_name":"moz","quality":"80"}',
    }
    headers = {
        "Content-Type": "image/jpeg",
        "X-Entity-Type": "image/jpeg",
        "X-Entity-Name": "fb_uploader_1717",
        "X-Entity-Length": str(len(photo)),
        "Offset": "0",
        "X-Instagram-Rupload-Params": json.dumps(params),
    }
    with veil.client() as client:
        url = f"https://{host}/rupload_igphoto/fb_uploader_1717"
        assert client.post(url, content=photo, headers=headers).status_code == 200
    [got] = arrived(site, host, "/rupload_igphoto/fb_uploader_1717")
    assert_protected(photo, got.body)  # P-FGSM on this host: pixels change
    assert (
        int(got.headers["X-Entity-Length"]) == len(got.body) == int(got.headers["Content-Length"])
    )
    announced = json.loads(got.headers["X-Instagram-Rupload-Params"])
    assert (announced["upload_media_width"], announced["upload_media_height"]) == (96, 72)
    assert {k: v for k, v in announced.items() if not k.startswith("upload_media_")} == {
        k: v for k, v in params.items() if not k.startswith("upload_media_")
    }
    assert got.headers["X-Entity-Name"] == "fb_uploader_1717"


def test_instagram_resumed_tail_is_blocked(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["instagram"]
    headers = {
        "X-Entity-Length": str(len(photo)),
        "Offset": "1000",
        "X-Instagram-Rupload-Params": '{"media_type":1,"upload_id":"2"}',
    }
    with veil.client() as client:
        response = client.post(
            f"https://{host}/rupload_igphoto/resumed", content=photo[1000:], headers=headers
        )
    assert response.status_code == 403 and "resumed" in response.headers["X-Veil-Blocked"]
    assert arrived(site, host, "/rupload_igphoto/resumed") == []


@pytest.mark.parametrize("as_base64", [False, True])
def test_x_segmented_upload_arrives_whole_at_total_bytes(
    veil: VeilProcess,
    site: PlatformSite,
    photo: bytes,
    as_base64: bool,
) -> None:
    host, path = HOSTS["x"], "/1.1/media/upload.json"
    before = len(arrived(site, host, path))
    with veil.client() as client:
        init = f"command=INIT&total_bytes={len(photo)}&media_type=image%2Fjpeg"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        response = client.post(f"https://{host}{path}", content=init, headers=form)
        assert response.json()["media_id_string"] == X_MEDIA_ID
        cut = len(photo) // 3
        for index, segment in enumerate([photo[:cut], photo[cut : 2 * cut], photo[2 * cut :]]):
            media = (
                field("media_data", base64.b64encode(segment))
                if as_base64
                else file_part("media", "blob", "application/octet-stream", segment)
            )
            parts = [
                field("command", b"APPEND"),
                field("media_id", X_MEDIA_ID.encode()),
                field("segment_index", str(index).encode()),
                media,
            ]
            post_form(veil, f"https://{host}{path}", parts)
        finalize = f"command=FINALIZE&media_id={X_MEDIA_ID}"
        assert (
            client.post(f"https://{host}{path}", content=finalize, headers=form).status_code == 204
        )
    init_got, append, finalize_got = arrived(site, host, path)[before:]
    assert init_got.body == init.encode() and finalize_got.body == finalize.encode()
    fields = {p.name: p.body for p in parse_multipart(append.body, BOUNDARY).parts}
    assert (fields["command"], fields["media_id"], fields["segment_index"]) == (
        b"APPEND",
        X_MEDIA_ID.encode(),
        b"0",
    )
    image = base64.b64decode(fields["media_data"]) if as_base64 else fields["media"]
    assert len(image) == len(photo), "INIT announced total_bytes: the size is kept"
    assert_protected(photo, image)


def test_facebook_graph_resumable_keeps_file_length(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["facebook"]
    with veil.client() as client:
        start = client.post(
            f"https://{host}/v19.0/1234567890/uploads",
            params={"file_name": "hen.jpg", "file_length": len(photo), "file_type": "image/jpeg"},
        )
        assert start.json()["id"] == FB_SESSION
        response = client.post(
            f"https://{host}/v19.0/{FB_SESSION}",
            content=photo,
            headers={"Authorization": "OAuth EAAB", "file_offset": "0"},
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, host, f"/v19.0/{FB_SESSION}")
    assert len(got.body) == len(photo) == int(got.headers["Content-Length"])
    assert got.headers["file_offset"] == "0" and got.headers["Authorization"] == "OAuth EAAB"
    assert_protected(photo, got.body)


def test_discord_attachment_put_keeps_file_size(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["discord"]
    path = "/1234567890/0987654321/IMG_2041.jpg"
    with veil.client() as client:
        response = client.put(
            f"https://{host}{path}",
            params={"upload_id": "ADPycdv"},
            content=photo,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200, response.text
    [got] = arrived(site, host, path)
    assert len(got.body) == len(photo) and got.path.endswith("upload_id=ADPycdv")
    assert_protected(photo, got.body)


def test_unprotected_host_gets_the_exact_original(
    veil: VeilProcess, site: PlatformSite, photo: bytes
) -> None:
    host = HOSTS["plain"]
    with veil.client(site.ca) as client:  # type: ignore[attr-defined]
        assert client.put(f"https://{host}/up", content=photo).status_code == 200
    assert [r.body for r in arrived(site, host, "/up")] == [photo]
