"""The worker's time is shared: a failed upload stops costing work at once, and a heavy post
does not make the next photo wait behind it."""

from __future__ import annotations

import asyncio

from mitmproxy.test import taddons

from proxy.addons.protect import MAX_IMAGES_PER_UPLOAD, UploadProtector
from proxy.outcomes import BLOCK_STATUS
from tests.proxy.addons.conftest import FakeProtector, flow_for
from tests.proxy.test_multipart import BOUNDARY, file_part, form_body

FORM = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def post_of(photo: bytes, count: int) -> bytes:
    parts = [file_part(f"photo{i}", f"{i}.jpg", "image/jpeg", photo) for i in range(count)]
    return form_body(parts)


async def test_an_upload_past_its_deadline_leaves_the_worker_at_once(book, outcomes, photo):
    fake = FakeProtector(delay=0.3)
    addon = UploadProtector(book, outcomes, fake, ["metadata"])
    with taddons.context(addon) as context:
        context.configure(addon, filter_deadline_s=0.1)
        await addon.running()
        flow = flow_for("/post", post_of(photo, 6), **FORM)
        await addon.request(flow)
        await asyncio.sleep(1.0)  # the worker would be on photo 4 if the rest were kept
        await addon.done()
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
    assert fake.calls == 1, "only the photo already running may finish"


async def test_a_single_photo_does_not_wait_behind_a_long_post(book, outcomes, photo):
    fake = FakeProtector(delay=0.1)
    addon = UploadProtector(book, outcomes, fake, ["metadata"])
    finished: list[str] = []

    async def send(name: str, body: bytes, **headers: str) -> None:
        flow = flow_for(f"/{name}", body, **headers)
        await addon.request(flow)
        assert flow.response is None, flow.response and flow.response.content
        finished.append(name)

    with taddons.context(addon) as context:
        # Each photo is well inside the deadline; the post as a whole (2 s) is not.
        context.configure(addon, filter_deadline_s=0.8)
        await addon.running()
        post = asyncio.create_task(send("post", post_of(photo, 20), **FORM))
        await asyncio.sleep(0.25)
        await send("single", photo)
        await post
        await addon.measured()
        await addon.done()
    assert finished == ["single", "post"] and fake.calls == 21


async def test_an_upload_with_too_many_images_is_refused_before_any_work(book, outcomes, photo):
    fake = FakeProtector()
    addon = UploadProtector(book, outcomes, fake, ["metadata"])
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/flood", post_of(photo, MAX_IMAGES_PER_UPLOAD + 1), **FORM)
        await addon.request(flow)
        await addon.done()
    assert flow.response is not None and flow.response.status_code == BLOCK_STATUS
    assert b"images in one upload" in flow.response.content and fake.calls == 0
