"""End to end: a real `veil run`, a real HTTPS upstream, a client that trusts Veil's CA."""

from __future__ import annotations

import io
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch
from PIL import Image

from filters.codecs import decode
from filters.shared.surrogate import Surrogate
from tests.conftest import IFD_GPS, jpeg_with_private_metadata, photo_path
from tests.e2e import Upstream, VeilProcess, serve_site, start_veil

pytestmark = pytest.mark.e2e

PROTECTED = "photos.veil-test.example"
UNPROTECTED = "plain.veil-test.example"
LENIENT = "up.lenient.veil-test.example"
FACES = "people.veil-test.example"  # faces and scene protected in one policy
BOUNDARY = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    yield from serve_site(tmp_path_factory, [PROTECTED, UNPROTECTED, LENIENT, FACES])


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[VeilProcess]:
    process = start_veil(
        tmp_path_factory.mktemp("veil-home"),
        upstream,
        {PROTECTED: ["metadata", "pfgsm"], FACES: ["metadata", "faces-blur", "pfgsm"]},
        hosts=[UNPROTECTED, LENIENT],
        policy={"strength": "strong"},  # the surrogate's label must move, visibly or not
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(400, 300))


def multipart_body(image: bytes, filename: str = "holiday.jpg") -> bytes:
    """A browser-shaped form: a text field, the photo, another field after it."""
    return b"".join(
        [
            b"--" + BOUNDARY + b"\r\n",
            b'Content-Disposition: form-data; name="caption"\r\n\r\n',
            b"Our holiday \xe2\x98\x80\r\n",
            b"--" + BOUNDARY + b"\r\n",
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode(),
            b"Content-Type: image/jpeg\r\n\r\n",
            image,
            b"\r\n--" + BOUNDARY + b"\r\n",
            b'Content-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n',
            b"--" + BOUNDARY + b"--\r\n",
        ]
    )


def split_image_part(body: bytes) -> tuple[bytes, bytes, bytes]:
    """(everything before the photo, the photo, everything after it), by the form's layout."""
    start = body.index(b"Content-Type: image/jpeg\r\n\r\n") + len(
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    end = body.index(
        b"\r\n--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="visibility"'
    )
    return body[:start], body[start:end], body[end:]


@pytest.fixture(scope="module")
def surrogate() -> Surrogate:
    return Surrogate.load()


def surrogate_label(surrogate: Surrogate, data: bytes) -> str:
    return surrogate.predict(decode(data).pixels).label


def assert_protected(surrogate: Surrogate, original: bytes, received: bytes) -> None:
    sent = Image.open(io.BytesIO(original))
    got = Image.open(io.BytesIO(received))
    got.load()
    assert got.format == "JPEG" and got.size == sent.size
    assert not got.getexif().get_ifd(IFD_GPS), "GPS must be gone"
    assert b"082021001234" not in received, "the camera serial must be gone"
    difference = sum(
        abs(a - b)
        for a, b in zip(got.convert("RGB").tobytes(), sent.convert("RGB").tobytes(), strict=True)
    )
    assert difference > 0, "pixels must differ"
    assert surrogate_label(surrogate, received) != surrogate_label(surrogate, original)


def audit_for(veil: VeilProcess, path: str, want: int = 1) -> list[dict]:
    return veil.audit(PROTECTED, path, want=want)


def test_multipart_upload_arrives_protected_and_audited(
    veil: VeilProcess, upstream: Upstream, photo: bytes, surrogate: Surrogate
) -> None:
    body = multipart_body(photo)
    with veil.client() as client:
        response = client.post(
            f"https://{PROTECTED}/api/v2/media?token=secret",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}"},
        )
    assert response.status_code == 200, response.text
    [received] = upstream.bodies("/api/v2/media")
    before, image, after = split_image_part(received)
    original_before, _, original_after = split_image_part(body)
    assert (before, after) == (original_before, original_after), (
        "other fields must be byte-identical"
    )
    assert_protected(surrogate, photo, image)
    [entry] = audit_for(veil, "/api/v2/media")
    assert entry["outcome"] == "protected" and entry["method"] == "POST"
    assert (entry["upstream_status"], entry["delivered"]) == (200, True)  # the site has it
    assert entry["filename"] == "holiday.jpg"
    assert "GPS" in entry["metadata_removed"]
    assert entry["label_before"] != entry["label_after"]
    assert 0 < entry["ssim"] <= 1 and entry["psnr"] > 20
    assert (entry["width"], entry["height"]) == (400, 300)
    assert entry["size_after"] == len(image)
    for which in ("before", "after"):
        thumb = veil.api("GET", f"/audit/{entry['id']}/thumbnails/{which}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= 256


def test_raw_put_arrives_protected(
    veil: VeilProcess, upstream: Upstream, photo: bytes, surrogate: Surrogate
) -> None:
    with veil.client() as client:
        # Content-Type says nothing useful: the image is recognised by its bytes.
        response = client.put(
            f"https://{PROTECTED}/upload/raw-1",
            content=photo,
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200, response.text
    [received] = upstream.bodies("/upload/raw-1")
    assert_protected(surrogate, photo, received)
    [entry] = audit_for(veil, "/upload/raw-1")
    assert entry["outcome"] == "protected" and entry["method"] == "PUT"


def test_policy_off_sends_the_exact_original_without_restart(
    veil: VeilProcess, upstream: Upstream, photo: bytes
) -> None:
    policy = veil.api("GET", f"/policies/{PROTECTED}").json()
    assert (
        veil.api("PUT", f"/policies/{PROTECTED}", json={**policy, "enabled": False}).status_code
        == 200
    )
    try:
        with veil.client(upstream.ca) as client:  # type: ignore[attr-defined]
            response = client.put(f"https://{PROTECTED}/upload/off", content=photo)
        assert response.status_code == 200
        assert upstream.bodies("/upload/off") == [photo]
        assert audit_for(veil, "/upload/off", want=0) == []
    finally:
        assert veil.api("PUT", f"/policies/{PROTECTED}", json=policy).status_code == 200
    with veil.client() as client:
        client.put(f"https://{PROTECTED}/upload/on-again", content=photo)
    [received] = upstream.bodies("/upload/on-again")
    assert received != photo and b"082021001234" not in received


def test_failed_protection_blocks_and_the_site_gets_nothing(
    veil: VeilProcess, upstream: Upstream, photo: bytes
) -> None:
    broken = photo[: len(photo) // 3]  # a JPEG by its bytes, but truncated: the filters fail
    with veil.client() as client:
        response = client.post(
            f"https://{PROTECTED}/upload/broken",
            content=multipart_body(broken, "broken.jpg"),
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}"},
        )
    assert response.status_code == 403
    assert "Veil blocked this upload" in response.text
    assert upstream.bodies("/upload/broken") == []
    [entry] = audit_for(veil, "/upload/broken")
    assert entry["outcome"] == "blocked" and entry["reason"]
    assert (entry["upstream_status"], entry["delivered"]) == (None, False)
    assert entry["filename"] == "broken.jpg"


def test_send_original_policy_lets_a_failed_photo_through(
    veil: VeilProcess, upstream: Upstream, photo: bytes
) -> None:
    site = "*.lenient.veil-test.example"
    policy = {"filters": ["metadata"], "on_failure": "send_original"}
    assert veil.api("PUT", f"/policies/{site}", json=policy).status_code == 201
    broken = photo[: len(photo) // 3]
    try:
        with veil.client() as client:
            response = client.put(f"https://{LENIENT}/upload/lenient", content=broken)
        assert response.status_code == 200
        assert upstream.bodies("/upload/lenient") == [broken]
        items = veil.api("GET", f"/audit?site={LENIENT}").json()["items"]
        assert [(e["path"], e["outcome"]) for e in items] == [("/upload/lenient", "passed")]
    finally:
        assert veil.api("DELETE", f"/policies/{site}").status_code in (200, 204)


def test_unprotected_host_is_tunnelled_not_decrypted(veil: VeilProcess, upstream: Upstream) -> None:
    # A client that trusts only the site's own CA: it succeeds only if Veil stays out of TLS.
    site_only = ssl.create_default_context(cafile=str(upstream.ca))  # type: ignore[attr-defined]
    proxy = f"http://127.0.0.1:{veil.proxy_port}"
    with httpx.Client(proxy=proxy, verify=site_only, timeout=30) as client:
        assert client.get(f"https://{UNPROTECTED}/hello").status_code == 200
        with pytest.raises(httpx.ConnectError):
            client.get(f"https://{PROTECTED}/hello")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Bearer wrong-token"}, 401),
        ({"Host": "evil.example:80"}, 403),
        ({"Origin": "https://evil.example"}, 403),
    ],
)
def test_control_api_refuses_strangers(
    veil: VeilProcess, headers: dict[str, str], status: int
) -> None:
    response = veil.api("GET", "/policies", headers=headers)
    assert response.status_code == status
    assert veil.api("GET", "/policies").status_code == 200


def test_startup_output_says_where_things_are(veil: VeilProcess) -> None:
    log = veil.log()
    assert str(veil.proxy_port) in log and str(veil.api_port) in log
    assert str(veil.ca_cert) in log and str(veil.home / "token") in log
    assert (veil.home / "token").stat().st_mode & 0o777 == 0o600
    assert Path(veil.ca_cert).exists()


def test_other_requests_flow_while_a_photo_is_protected(
    veil: VeilProcess, upstream: Upstream
) -> None:
    big = jpeg_with_private_metadata(photo_path("chelsea"), size=(4000, 3000))
    finished: list[str] = []

    def slow_upload() -> None:
        with veil.client() as client:
            client.put(f"https://{PROTECTED}/upload/big", content=big).raise_for_status()
        finished.append("upload")

    uploader = threading.Thread(target=slow_upload)
    uploader.start()
    try:
        # Sending 4 MB on loopback takes milliseconds, protecting 12 MP takes seconds: after
        # half a second the proxy is busy with the photo.
        time.sleep(0.5)
        with veil.client() as client:
            assert client.get(f"https://{PROTECTED}/feed").status_code == 200
        finished.append("get")
    finally:
        uploader.join(120)
    assert finished == ["get", "upload"], "a GET must not wait for a photo being protected"
    arrivals = [r.path for r in upstream.received if r.path in ("/feed", "/upload/big")]
    assert arrivals == ["/feed", "/upload/big"], "the GET reached the site while the photo waited"


def test_a_tunnel_opened_before_protection_does_not_carry_the_next_upload(
    veil: VeilProcess, upstream: Upstream, photo: bytes
) -> None:
    site_only = ssl.create_default_context(cafile=str(upstream.ca))  # type: ignore[attr-defined]
    proxy = f"http://127.0.0.1:{veil.proxy_port}"
    with httpx.Client(proxy=proxy, verify=site_only, timeout=30) as client:
        assert client.get(f"https://{UNPROTECTED}/warm").status_code == 200  # keep-alive tunnel
        policy = {"filters": ["metadata"]}
        assert veil.api("PUT", f"/policies/{UNPROTECTED}", json=policy).status_code == 201
        try:
            # The old tunnel is closed; the new connection is Veil's, which this client
            # does not trust: the upload fails instead of leaving unprotected.
            with pytest.raises(httpx.HTTPError):
                client.put(f"https://{UNPROTECTED}/upload/through-old-tunnel", content=photo)
        finally:
            assert veil.api("DELETE", f"/policies/{UNPROTECTED}").status_code == 204
    assert upstream.bodies("/upload/through-old-tunnel") == []


@pytest.mark.shared_data("faces")
def test_faces_and_scene_are_protected_in_one_upload(
    veil: VeilProcess, upstream: Upstream, surrogate: Surrogate
) -> None:
    import numpy as np

    from filters.shared.faces import find_faces
    from filters.shared.sface import SAME_PERSON, SFace, aligned, alignment
    from tests.conftest import FACES as FACE_PHOTOS

    with Image.open(FACE_PHOTOS / "groups/two_people.jpg") as image:
        image = image.convert("RGB")
        image.thumbnail((640, 640))
        original = io.BytesIO()
        image.save(original, "JPEG", quality=92)
    photo = original.getvalue()
    with veil.client() as client:
        response = client.put(f"https://{FACES}/upload/2.jpg", content=photo)
    assert response.status_code == 200, response.text
    [received] = upstream.bodies("/upload/2.jpg")
    before, after = decode(photo).pixels, decode(received).pixels
    faces = find_faces(before)
    assert len(faces) == 2
    model = SFace.load()

    def embedding(pixels: np.ndarray, face: object) -> np.ndarray:
        tensor = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255
        matrix = torch.from_numpy(alignment(face.landmarks))[None]  # type: ignore[attr-defined]
        with torch.no_grad():
            return model(aligned(tensor, matrix))[0].numpy()

    # Each face is gone as far as a recogniser goes; the scene's label moved too.
    for face in faces:
        assert float(embedding(before, face) @ embedding(after, face)) < SAME_PERSON
    assert surrogate_label(surrogate, received) != surrogate_label(surrogate, photo)
    [entry] = veil.audit(FACES, "/upload/2.jpg")
    assert entry["faces"] == "all" and len(entry["faces_found"]) == 2
    assert entry["faces_changed"] == 2
