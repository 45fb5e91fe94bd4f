"""The addon's hooks called directly on test flows, with the real store and the real filters."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from mitmproxy.test import taddons, tflow, tutils
from PIL import Image

from filters import Protector
from proxy.addon import BLOCK_STATUS, VeilAddon
from proxy.policies import Policy
from proxy.settings import load_settings
from proxy.store import Store
from tests.conftest import IFD_GPS, imagenet_photo, jpeg_with_private_metadata

SITE = "photos.example.com"


@pytest.fixture(scope="module")
def protector() -> Protector:
    protector = Protector()
    protector.load(["metadata", "pfgsm"])
    return protector


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "veil.db", seed_defaults=False)
    store.put_policy(Policy(site=SITE, filters=("metadata",)))
    yield store
    store.close()


@pytest.fixture
def photo() -> bytes:
    return jpeg_with_private_metadata(imagenet_photo("n01514859_hen"), size=(160, 120))


def make_addon(store: Store, protector: Protector, tmp_path: Path, **settings: object) -> VeilAddon:
    return VeilAddon(store, protector, load_settings(tmp_path / "home", **settings))


def upload(host: str, body: bytes, **headers: str) -> tflow.HTTPFlow:
    request = tutils.treq(host=host, port=443, method=b"PUT", path=b"/up?sig=1", content=b"")
    request.headers.update(headers)
    request.raw_content = body
    return tflow.tflow(req=request)


async def test_gzip_encoded_photo_is_protected_and_reencoded(
    store: Store, protector: Protector, tmp_path: Path, photo: bytes
) -> None:
    addon = make_addon(store, protector, tmp_path)
    with taddons.context(addon):
        flow = upload(SITE, gzip.compress(photo), **{"Content-Encoding": "gzip"})
        addon.requestheaders(flow)
        assert not flow.request.stream
        await addon.request(flow)
    assert flow.response is None
    assert flow.request.headers["content-encoding"] == "gzip"
    sent = gzip.decompress(flow.request.raw_content)
    assert int(flow.request.headers["content-length"]) == len(flow.request.raw_content)
    assert not Image.open(io.BytesIO(sent)).getexif().get_ifd(IFD_GPS)
    [entry], total = store.list_audit(site=SITE)
    assert total == 1 and entry.outcome == "protected" and entry.path == "/up"


async def test_deadline_exceeded_blocks_the_upload(
    store: Store, protector: Protector, tmp_path: Path, photo: bytes
) -> None:
    store.put_policy(Policy(site=SITE, filters=("metadata", "pfgsm")))
    addon = make_addon(store, protector, tmp_path, filter_deadline_s=0.001)
    with taddons.context(addon):
        flow = upload(SITE, photo)
        await addon.request(flow)
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
    assert b"deadline" in flow.response.content
    [entry], _ = store.list_audit()
    assert entry.outcome == "blocked" and "deadline" in (entry.reason or "")


async def test_non_image_upload_is_left_alone(
    store: Store, protector: Protector, tmp_path: Path
) -> None:
    addon = make_addon(store, protector, tmp_path)
    body = b'{"status": "hello"}'
    with taddons.context(addon):
        flow = upload(SITE, body, **{"Content-Type": "application/json"})
        await addon.request(flow)
    assert flow.response is None and flow.request.raw_content == body
    assert store.list_audit() == ([], 0)


async def test_undecodable_encoding_on_protected_site_is_blocked(
    store: Store, protector: Protector, tmp_path: Path, photo: bytes
) -> None:
    addon = make_addon(store, protector, tmp_path)
    with taddons.context(addon):
        flow = upload(SITE, photo, **{"Content-Encoding": "gzip"})  # claims gzip, is not
        await addon.request(flow)
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS


def test_unprotected_and_disabled_sites_stream(
    store: Store, protector: Protector, tmp_path: Path
) -> None:
    store.put_policy(Policy(site="*.off.example", enabled=False))
    addon = make_addon(store, protector, tmp_path)
    for host in ("elsewhere.example", "a.off.example"):
        flow = upload(host, b"x")
        addon.requestheaders(flow)
        assert flow.request.stream
    assert addon.policy_for("cdn.photos.example.com") is None
    assert addon.policy_for(SITE) is not None
