"""Faults inside the proxy: a filter out of memory, a database out of space. Each upload gets
the failure rule or goes out protected, the next one is served, and no audit row is lost."""

from __future__ import annotations

import time

from mitmproxy.test import taddons

from proxy.addons.protect import UploadProtector
from proxy.audit import AuditEntry
from proxy.outcomes import BLOCK_STATUS
from tests.conftest import a_record
from tests.proxy.addons.conftest import SITE, FakeProtector, flow_for


class OutOfMemoryOnce(FakeProtector):
    """Runs out of memory on the first photo, as a huge one would, then works again."""

    def protect(self, data: bytes, *args: object, **kwargs: object):  # type: ignore[no-untyped-def, override]
        if self.calls == 0:
            self.calls += 1
            raise MemoryError()
        return super().protect(data, *args, **kwargs)  # type: ignore[arg-type]


async def test_a_filter_out_of_memory_blocks_that_upload_and_the_next_is_served(
    book, outcomes, store, photo
):
    addon = UploadProtector(book, outcomes, OutOfMemoryOnce(), ["metadata"])
    with taddons.context(addon):
        await addon.running()
        first, second = flow_for("/first", photo), flow_for("/second", photo)
        await addon.request(first)
        await addon.request(second)
        await addon.measured()
        await addon.done()
    assert first.response is not None and first.response.status_code == BLOCK_STATUS
    assert b"MemoryError" in first.response.content
    assert second.response is None and second.request.raw_content != photo
    reasons = {row.path: row.reason for row in store.list_audit(site=SITE)[0]}
    assert reasons["/first"] == "MemoryError"


def test_a_full_database_spools_the_audit_and_loses_no_row(store) -> None:
    writer = store._audit  # the fault is injected where the rows are written
    pages = writer._db.execute("PRAGMA page_count").fetchone()[0]
    writer._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # full after a row or two
    entry = a_record()
    rows = [
        AuditEntry(
            site=SITE,
            method="POST",
            path=f"/full/{index}",
            policy_site=SITE,
            filters=["metadata"],
            strength="invisible",
            outcome="protected",
            record=entry,
        )
        for index in range(20)
    ]
    started = time.monotonic()
    for row in rows:
        store.add_audit(row)
    assert time.monotonic() - started < 2.0, "a full database must not hold up the uploads"
    assert writer.spool.pending, "rows that did not fit wait in the spool"
    writer._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    deadline = time.monotonic() + 20
    while store.list_audit(site=SITE, limit=50)[1] < 20 and time.monotonic() < deadline:
        writer._wake.set()
        time.sleep(0.1)
    paths = sorted(row.path for row in store.list_audit(site=SITE, limit=50)[0])
    assert paths == sorted(row.path for row in rows)
