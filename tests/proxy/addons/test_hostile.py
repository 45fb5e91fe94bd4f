"""Every hostile body of ``tests/proxy/hostile.py`` through the upload protector: image data
is rewritten or stopped by the failure rule, wherever and however it hides; the rest passes
as it came."""

from __future__ import annotations

import pytest
from mitmproxy.test import taddons

from proxy.addons.protect import UploadProtector
from proxy.decoding import decode_capped
from proxy.outcomes import BLOCK_STATUS
from tests.conftest import jpeg_with_private_metadata, photo_path
from tests.proxy.addons.conftest import SITE, FakeProtector, flow_for
from tests.proxy.hostile import Hostile, hostile_cases

CASES = hostile_cases(jpeg_with_private_metadata(photo_path("chelsea"), size=(64, 48)))
GPS_TAG = b"GPS"  # the private EXIF the photo carries, by name in its IFD


def test_the_corpus_is_large_and_covers_each_handling() -> None:
    assert len(CASES) >= 60 and len({case.name for case in CASES}) == len(CASES)
    assert {case.handling for case in CASES} == {"protected", "blocked", "untouched"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_hostile_body_is_protected_blocked_or_left_as_it_came(
    book, outcomes, store, case: Hostile
) -> None:
    headers = {"Content-Type": case.content_type} if case.content_type else {}
    if case.content_encoding:
        headers["Content-Encoding"] = case.content_encoding
    addon = UploadProtector(book, outcomes, FakeProtector(), ["metadata"])
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/upload", case.body, **headers)
        await addon.request(flow)
        await addon.measured()
        await addon.done()
    rows, _ = store.list_audit(site=SITE)
    if case.handling == "blocked":
        assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
        assert rows and {row.outcome for row in rows} == {"blocked"}
        return
    assert flow.response is None
    if case.handling == "untouched":
        assert flow.request.raw_content == case.body and rows == []
        return
    sent = decode_capped(flow.request.raw_content or b"", case.content_encoding, 1 << 30)
    assert sent != case.body and rows and {row.outcome for row in rows} == {"protected"}
    original = decode_capped(case.body, case.content_encoding, 1 << 30)
    assert GPS_TAG not in sent or GPS_TAG in original.replace(GPS_TAG, b"", 1)


async def test_an_upload_is_protected_when_only_its_sni_names_the_site(book, outcomes, store):
    photo = next(case.body for case in CASES if case.name == "raw JPEG")
    addon = UploadProtector(book, outcomes, FakeProtector(), ["metadata"])
    with taddons.context(addon):
        await addon.running()
        flow = flow_for(
            "/upload", photo, host="elsewhere.example", **{"Content-Type": "image/jpeg"}
        )
        flow.client_conn.sni = SITE  # Host and CONNECT name another site; the TLS name is ours
        await addon.request(flow)
        await addon.measured()
        await addon.done()
    assert flow.response is None and flow.request.raw_content != photo
