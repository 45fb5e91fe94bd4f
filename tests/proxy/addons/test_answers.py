"""The audit says an upload reached the site only once the site answered (proxy/outcomes.py,
through proxy/addons/protect.py's response and error hooks)."""

from __future__ import annotations

import asyncio

from mitmproxy import flow as mitmflow
from mitmproxy.test import taddons, tutils

from proxy.addons.protect import UploadProtector
from proxy.outcomes import BLOCK_STATUS, Outcomes
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.store import Store
from tests.proxy.addons.conftest import SITE, FakeProtector, flow_for


def protector_addon(
    book: PolicyBook, outcomes: Outcomes, fake: FakeProtector | None = None
) -> UploadProtector:
    return UploadProtector(book, outcomes, fake or FakeProtector(), ["metadata"])


async def test_a_protected_upload_is_audited_with_the_sites_answer(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo)
        await addon.request(flow)
        await addon.measured()
        assert store.list_audit() == ([], 0), "no row before the site answered"
        flow.response = tutils.tresp(status_code=201)
        addon.response(flow)
        await addon.done()
    [entry], _ = store.list_audit()
    assert entry.outcome == "protected" and entry.record is not None
    assert (entry.upstream_status, entry.delivered, entry.upstream_error) == (201, True, None)


async def test_an_answer_before_the_measurement_goes_in_the_row(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes, FakeProtector(measure_delay=0.2))
    with taddons.context(addon):
        await addon.running()
        flow = flow_for("/up", photo)
        await addon.request(flow)
        flow.response = tutils.tresp(status_code=502)  # the site's own 502 is an answer
        addon.response(flow)
        assert store.list_audit() == ([], 0), "the row waits for its figures"
        await addon.measured()
        await addon.done()
    [entry] = store.list_audit()[0]
    assert entry.record is not None and (entry.upstream_status, entry.delivered) == (502, True)


async def test_a_site_that_never_answered_is_not_said_to_have_the_photo(
    book, outcomes, store, photo
):
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        await addon.running()
        refused = flow_for("/up/refused", photo)
        await addon.request(refused)
        await addon.measured()
        # What mitmproxy does when it cannot reach the site: the error hook, its own 502.
        refused.error = mitmflow.Error("Connection refused")
        addon.error(refused)
        await addon.done()
    [entry] = store.list_audit()[0]
    assert entry.outcome == "protected", "the photo was protected; it just never arrived"
    assert (entry.upstream_status, entry.delivered) == (None, False)
    assert entry.upstream_error == "Connection refused"


async def test_a_hung_site_gets_a_row_after_the_wait(book, outcomes, store, photo, monkeypatch):
    monkeypatch.setattr("proxy.outcomes.ANSWER_WAIT_S", 0.1)
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        await addon.running()
        hung = flow_for("/up/hung", photo)
        await addon.request(hung)
        await addon.measured()
        assert store.list_audit() == ([], 0)
        await asyncio.sleep(0.3)
        [entry] = store.list_audit()[0]
        assert entry.delivered is False and "had not answered after 0.1 s" in entry.upstream_error
        hung.response = tutils.tresp(status_code=200)  # too late: the row stands, once
        addon.response(hung)
        await addon.done()
    assert store.list_audit()[1] == 1


async def test_rows_still_waiting_at_shutdown_say_veil_stopped(book, outcomes, store, photo):
    addon = protector_addon(book, outcomes)
    with taddons.context(addon):
        await addon.running()
        await addon.request(flow_for("/up", photo))
        await addon.measured()
        await addon.done()
    [entry] = store.list_audit()[0]
    assert (
        entry.delivered is False and entry.upstream_error == "Veil stopped before the site answered"
    )


async def test_blocked_and_passed_uploads(book, outcomes, store: Store, photo):
    addon = protector_addon(book, outcomes, FakeProtector(fail="cannot"))
    with taddons.context(addon):
        await addon.running()
        blocked = flow_for("/up/blocked", photo)
        await addon.request(blocked)
        assert blocked.response is not None and blocked.response.status_code == BLOCK_STATUS
        [entry] = store.list_audit()[0]  # never sent: written at once
        assert (entry.outcome, entry.delivered, entry.upstream_status) == ("blocked", False, None)
        store.put_policy(Policy(site=SITE, filters=("metadata",), on_failure="send_original"))
        book.reload()
        passed = flow_for("/up/passed", photo)
        await addon.request(passed)
        assert store.list_audit()[1] == 1, "the original left: its row waits for the answer"
        passed.response = tutils.tresp(status_code=200)
        addon.response(passed)
        await addon.done()
    newest = store.list_audit()[0][0]
    assert (newest.outcome, newest.upstream_status, newest.delivered) == ("passed", 200, True)
