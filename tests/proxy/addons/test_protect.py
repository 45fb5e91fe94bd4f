"""proxy/addons/protect.py: buffered uploads to protected sites, image by image, on the worker."""

from __future__ import annotations

import asyncio
import gzip
import io

from mitmproxy import http
from mitmproxy.test import taddons, tutils
from PIL import Image

from proxy import multipart
from proxy.addons.protect import UploadProtector
from proxy.outcomes import BLOCK_STATUS, Outcomes
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from tests.conftest import IFD_GPS, jpeg_with_private_metadata, photo_path
from tests.proxy.addons.conftest import SITE, FakeProtector, flow_for
from tests.proxy.test_multipart import BOUNDARY, field, file_part, form_body


def protector_addon(
    book: PolicyBook, outcomes: Outcomes, fake: FakeProtector | None = None
) -> UploadProtector:
    return UploadProtector(book, outcomes, fake or FakeProtector(), ["metadata"])


def site_answers(addon: UploadProtector, flow: http.HTTPFlow, status: int = 200) -> None:
    """The site's answer: an upload's audit rows are written only once it came."""
    flow.response = tutils.tresp(status_code=status)
    addon.response(flow)


async def test_the_models_load_on_the_worker_when_the_proxy_runs(book, outcomes):
    fake = FakeProtector()
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        assert fake.loaded == []
        await addon.running()
        assert fake.loaded == ["metadata"]
        await addon.done()


async def test_gzip_encoded_photo_is_protected_and_reencoded(book, outcomes, store, photo):
    fake = FakeProtector()
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for(
            "/up?sig=1", gzip.compress(photo), method="PUT", **{"Content-Encoding": "gzip"}
        )
        await addon.request(flow)
        assert flow.response is None
        await addon.measured()
        site_answers(addon, flow)
    assert fake.calls == 1
    assert flow.request.headers["content-encoding"] == "gzip"
    sent = gzip.decompress(flow.request.raw_content)
    assert int(flow.request.headers["content-length"]) == len(flow.request.raw_content)
    image = Image.open(io.BytesIO(sent))
    assert not image.getexif().get_ifd(IFD_GPS) and image.convert("RGB").getpixel((0, 0)) != (
        0,
        0,
        0,
    )
    [entry], total = store.list_audit(site=SITE)
    assert total == 1 and entry.outcome == "protected" and entry.path == "/up"
    assert entry.record is not None and entry.record.label_after == "marked"
    assert "GPS" in entry.record.metadata_removed
    # No face filter: the policy's default choice goes along, and the audit found no faces.
    assert fake.whose == ["all"]
    assert (entry.faces, entry.faces_found, entry.faces_changed) == ("all", [], None)


async def test_the_policy_says_whose_faces_and_the_audit_shows_them_upright(book, outcomes, store):
    # A phone photo stored sideways (160 x 120, Orientation 6: shown 120 wide, 160 high).
    cat = photo_path("chelsea")
    photo = jpeg_with_private_metadata(cat, size=(160, 120), orientation=6)
    store.put_policy(Policy(site=SITE, filters=("metadata", "faces-blur"), faces="bystanders"))
    book.reload()
    fake = FakeProtector(found=[(16, 12, 32, 24), (100, 60, 20, 20)])
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo)
        await addon.request(flow)
        await addon.measured()
        site_answers(addon, flow)
    assert fake.whose == ["bystanders"]
    [entry], _ = store.list_audit()
    assert entry.faces == "bystanders" and entry.faces_changed == 1
    # Fractions of the upright photo: (16, 12) as stored is 120 - 12 - 24 = 84 px across.
    assert entry.faces_found == ["0.7,0.1,0.2,0.2", "0.3333,0.625,0.1667,0.125"]


async def test_deadline_exceeded_blocks_the_upload(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes, FakeProtector(delay=0.5))
    with taddons.context(addon) as context:
        context.configure(addon, filter_deadline_s=0.05)
        await addon.running()
        flow = flow_for("/up", photo)
        await addon.request(flow)
        await addon.measured()
        await addon.done()
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
    assert b"deadline" in flow.response.content and b"0.05 s" in flow.response.content
    [entry], _ = store.list_audit()
    assert entry.outcome == "blocked" and "deadline" in (entry.reason or "")


async def test_a_failed_photo_follows_the_policy(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes, FakeProtector(fail="cannot protect this"))
    with taddons.context(addon):
        await addon.running()
        blocked = flow_for("/up", photo)
        await addon.request(blocked)
        await addon.measured()
        store.put_policy(Policy(site=SITE, filters=("metadata",), on_failure="send_original"))
        book.reload()
        passed = flow_for("/up", photo)
        await addon.request(passed)
        await addon.measured()
        assert passed.response is None and passed.request.raw_content == photo
        site_answers(addon, passed)
    assert blocked.response is not None and blocked.response.status_code == BLOCK_STATUS
    outcomes_seen = [entry.outcome for entry in store.list_audit()[0]]
    assert outcomes_seen == ["passed", "blocked"]  # newest first


async def test_an_upload_before_the_worker_runs_is_blocked(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        flow = flow_for("/up", photo)
        await addon.request(flow)
        await addon.measured()
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
    assert store.list_audit()[0][0].outcome == "blocked"


async def test_non_image_upload_is_left_alone(book, outcomes, store):
    fake = FakeProtector()
    addon = protector_addon(book, outcomes, fake)
    body = b'{"status": "hello"}'
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", body, method="PUT", **{"Content-Type": "application/json"})
        await addon.request(flow)
        await addon.measured()
    assert flow.response is None and flow.request.raw_content == body
    assert store.list_audit() == ([], 0) and fake.calls == 0


async def test_undecodable_encoding_on_protected_site_is_blocked(book, outcomes, photo):
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo, method="PUT", **{"Content-Encoding": "gzip"})  # is not
        await addon.request(flow)
        await addon.measured()
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS


async def test_unprotected_hosts_are_not_touched(book, outcomes, photo):
    fake = FakeProtector()
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo, host="elsewhere.example")
        await addon.request(flow)
        await addon.measured()
    assert flow.response is None and flow.request.raw_content == photo and fake.calls == 0


async def test_a_multipart_body_is_parsed_once(book, outcomes, store, photo, monkeypatch):
    parses = []
    real = multipart.parse_multipart

    def counted(body: bytes, boundary: str) -> multipart.Multipart:
        parses.append(len(body))
        return real(body, boundary)

    monkeypatch.setattr(multipart, "parse_multipart", counted)
    addon = protector_addon(book, outcomes)
    parts = [field("caption", b"holiday"), file_part("file", "a.jpg", "image/jpeg", photo)]
    with taddons.context(addon):
        await addon.running()
        flow = flow_for(
            "/media",
            form_body(parts),
            **{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        await addon.request(flow)
        await addon.measured()
        assert flow.response is None
        site_answers(addon, flow)
    assert len(parses) == 1
    [entry], _ = store.list_audit()
    assert entry.outcome == "protected" and entry.filename == "a.jpg"


async def test_the_upload_leaves_before_it_is_measured(book, outcomes, store, photo):
    fake = FakeProtector(measure_delay=0.3)
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo)
        started = asyncio.get_running_loop().time()
        await addon.request(flow)
        released = asyncio.get_running_loop().time() - started
        assert flow.request.raw_content != photo and fake.measured == 0
        assert store.list_audit() == ([], 0)  # the audit row waits for the measurement
        site_answers(addon, flow)
        await addon.measured()
    assert released < 0.3 and fake.measured == 1
    [entry], _ = store.list_audit()
    assert entry.outcome == "protected" and entry.record.label_after == "marked"


async def test_a_failed_measurement_still_audits_the_protected_upload(book, outcomes, store, photo):
    fake = FakeProtector()
    fake.measure = lambda protected: 1 / 0  # type: ignore[method-assign]
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo)
        await addon.request(flow)
        await addon.measured()
        site_answers(addon, flow)
    [entry], _ = store.list_audit()
    assert entry.outcome == "protected" and entry.record is None


async def test_a_series_of_uploads_is_protected_before_any_is_measured(
    book, outcomes, store, photo
):
    # Measuring used to share the worker: each upload waited for the one before to be measured.
    fake = FakeProtector(measure_delay=0.3)
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        loop = asyncio.get_running_loop()
        flows = [flow_for(f"/up/{number}", photo) for number in range(3)]
        for flow in flows:
            started = loop.time()
            await addon.request(flow)
            assert loop.time() - started < 0.3
        assert fake.calls == 3 and fake.measured == 0
        await addon.measured()
        for flow in flows:
            site_answers(addon, flow)
    assert fake.measured == 3
    entries, total = store.list_audit()
    assert total == 3 and all(e.record is not None for e in entries)


async def test_uploads_still_unmeasured_at_shutdown_keep_their_rows(
    book, outcomes, store, photo, monkeypatch
):
    monkeypatch.setattr("proxy.addons.protect.MEASURE_WAIT_S", 0.1)
    fake = FakeProtector(measure_delay=2.0)
    addon = protector_addon(book, outcomes, fake)
    with taddons.context(addon):
        await addon.running()
        await addon.request(flow_for("/up/a", photo))
        await addon.request(flow_for("/up/b", photo))
        await addon.done()
    entries, total = store.list_audit()
    assert total == 2 and {e.path for e in entries} == {"/up/a", "/up/b"}
    assert all(e.outcome == "protected" and e.record is None for e in entries)
