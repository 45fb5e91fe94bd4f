"""The upload protector: every image of a buffered upload to a protected site goes through
the site's filters on one worker thread, within a deadline, or the failure rule applies.

The hook checks, then hands off: the body work is pure (``proxy.uploads``,
``proxy.adapters``) and the image work runs on the worker, so other flows keep moving.
Measuring a protected image for the audit (labels, visibility) comes after the upload has
left, on a second thread at a lower priority, once no upload has been protected for a
moment: a series of uploads is protected first and measured after.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from mitmproxy import ctx, http

from filters import Protected, ProtectionRecord, face_findings
from proxy.adapters import Adapter, Plan, default_adapters, plan_upload
from proxy.flows import WATCHED, flow_hosts, upload_request
from proxy.outcomes import Outcomes
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.settings import DEFAULT_DEADLINE_S
from proxy.uploads import FoundImages, ImageSlot, find_images

__all__ = ["ImageProtector", "UploadProtector"]

log = logging.getLogger(__name__)

# At shutdown, how long the uploads already sent may take to be measured for the audit;
# rows still unmeasured then are written without the figures.
MEASURE_WAIT_S = 10.0
# Measuring waits until no upload has been protected for this long. Measuring one 12 MP
# photo takes about 1.5 s of CPU; queued on the worker, it delayed the next upload of a
# series by as much (make bench: 3.65 s added to a 12 MP upload with `metadata` alone).
QUIET_S = 0.5
# The measuring thread's niceness (Linux: per thread, inherited by what it starts, the
# Butteraugli processes and torch's threads): protection gets the CPU when both run.
MEASURE_NICENESS = 10


def _lower_priority() -> None:
    if sys.platform == "linux":
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), MEASURE_NICENESS)
        except OSError:  # not allowed here: measuring still works, at the same priority
            log.debug("could not lower the measuring thread's priority", exc_info=True)


class ImageProtector(Protocol):
    """What the addon needs of ``filters.Protector``: the seam where tests put a fake."""

    def load(self, filters: Sequence[str]) -> None: ...

    def protect(
        self,
        data: bytes,
        filters: Sequence[str],
        strength: str = ...,
        *,
        profile: str = ...,
        exact_size: bool = ...,
        faces: str = ...,
    ) -> Protected: ...

    def measure(self, protected: Protected) -> ProtectionRecord: ...


@dataclass
class _Outcome:
    """What the worker thread made of one request body."""

    body: bytes
    protected: list[tuple[ImageSlot, Protected]] = field(default_factory=list)


class UploadProtector:
    def __init__(
        self,
        book: PolicyBook,
        outcomes: Outcomes,
        protector: ImageProtector,
        filters: Sequence[str],
        adapters: list[Adapter] | None = None,
    ) -> None:
        self.book = book
        self.outcomes = outcomes
        self.protector = protector
        self.filters = list(filters)  # loaded when the proxy starts
        self.adapters = default_adapters() if adapters is None else adapters
        self._executor: ThreadPoolExecutor | None = None
        self._measurer: ThreadPoolExecutor | None = None
        self._measuring: set[asyncio.Task[None]] = set()
        self._protecting = 0  # bodies on the worker now
        self._last_protected = 0.0  # time.monotonic() when the last one left it

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "filter_deadline_s",
            float,
            DEFAULT_DEADLINE_S,
            "Longest a photo's protection may take before the failure rule applies.",
        )

    async def running(self) -> None:
        """Start the worker and load the models on it, before anything else is served.

        One worker: the filters use every core already, and one photo at a time keeps memory
        flat. torch keeps a pool of worker threads per calling thread: models loaded on
        another thread left a second pool, and every photo took 1.4x as long.
        """
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-filters")
        self._measurer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="veil-measure", initializer=_lower_priority
        )
        await asyncio.wrap_future(self._executor.submit(self.protector.load, self.filters))

    async def measured(self, timeout: float | None = None) -> None:
        """Wait until the uploads already sent are measured and their audit rows written."""
        if self._measuring:
            await asyncio.wait(set(self._measuring), timeout=timeout)

    async def done(self) -> None:
        await self.measured(MEASURE_WAIT_S)  # the audit rows of uploads already sent
        for task in set(self._measuring):  # the rest are written unmeasured
            task.cancel()
        await asyncio.gather(*self._measuring, return_exceptions=True)
        for executor in (self._executor, self._measurer):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)

    def response(self, flow: http.HTTPFlow) -> None:
        watched = flow.metadata.pop(WATCHED, None)
        if watched is not None and flow.response is not None:
            watched(flow.response.status_code, flow.response.content or b"")

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live or flow.request.stream:
            return
        policy = self.book.policy_for(*flow_hosts(flow))
        if policy is None:
            return
        try:
            await self._request(flow, policy)
        except Exception as error:
            # mitmproxy logs a hook's exception and sends the flow on: a bug here must not
            # let an original through, so it falls under the failure rule like any other.
            log.exception("protecting %s %s failed", flow.request.method, flow.request.url)
            if flow.response is None:
                self.outcomes.fail(flow, policy, [], f"internal error: {error}")

    async def _request(self, flow: http.HTTPFlow, policy: Policy) -> None:
        try:
            body = flow.request.get_content() or b""
        except ValueError as error:
            # Undecodable Content-Encoding: we cannot see inside, so we cannot vouch for it.
            self.outcomes.fail(flow, policy, [], f"cannot decode the request body: {error}")
            return
        request = upload_request(flow, body)
        try:
            plan = plan_upload(self.adapters, request)
            if plan.body is not None:  # segments assembled into a new body
                found = find_images(request.content_type, plan.body)
            else:  # the one parse of the body, shared with the adapters
                found = find_images(request.content_type, body, request.multipart)
        except ValueError as error:  # a malformed multipart body, JSON, base64...
            self.outcomes.fail(flow, policy, [], f"cannot parse the upload: {error}")
            return
        if plan.watcher is not None:
            flow.metadata[WATCHED] = plan.watcher
        if plan.refuse is not None:
            self.outcomes.fail(flow, policy, found.slots, plan.refuse)
            return
        if plan.reply is not None:
            # A held segment: the site gets it later, inside the whole protected photo.
            headers = {"X-Veil-Held": "segment"}
            if plan.reply_body:
                headers["Content-Type"] = "application/json"
            flow.response = http.Response.make(plan.reply, plan.reply_body, headers)
            return
        # Image data no shape found cannot be protected, so it must not leave.
        trace = found.trace()
        if trace is not None:
            self.outcomes.fail(flow, policy, found.slots, f"cannot protect {trace.describe()}")
            return
        for name, value in plan.query.items():
            flow.request.query[name] = value
        if plan.body is not None:
            flow.request.content = plan.body
        if found.slots:
            await self._protect(flow, policy, plan, found)

    async def _protect(
        self, flow: http.HTTPFlow, policy: Policy, plan: Plan, found: FoundImages
    ) -> None:
        if self._executor is None:  # a hook must never raise: mitmproxy would send the flow on
            self.outcomes.fail(flow, policy, found.slots, "Veil is not running its filters yet")
            return
        deadline = ctx.options.filter_deadline_s
        work = self._executor.submit(self._protect_body, found, policy, plan.exact_size)
        self._protecting += 1
        loop = asyncio.get_running_loop()  # the counters are kept on the event loop's thread
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(self._protected_one))
        try:
            outcome = await asyncio.wait_for(asyncio.wrap_future(work), timeout=deadline)
        except TimeoutError:
            reason = f"protection exceeded its deadline of {deadline:g} s"
            self.outcomes.fail(flow, policy, found.slots, reason)
            return
        except Exception as error:  # any failure of protection falls under the policy's rule
            self.outcomes.fail(flow, policy, found.slots, str(error) or type(error).__name__)
            return
        flow.request.content = outcome.body  # re-applies Content-Encoding, fixes Content-Length
        if plan.finish is not None:
            sizes = [(p.original.width, p.original.height) for _, p in outcome.protected]
            for name, value in plan.finish(outcome.body, sizes).headers.items():
                flow.request.headers[name] = value
        # The upload leaves now; measuring it for the audit (labels, visibility) comes after.
        task = asyncio.create_task(self._measure(flow, policy, outcome.protected))
        self._measuring.add(task)
        task.add_done_callback(self._measuring.discard)

    def _protected_one(self) -> None:
        self._protecting -= 1
        self._last_protected = time.monotonic()

    async def _quiet(self) -> None:
        """Until no upload is being protected, nor was in the last :data:`QUIET_S`."""
        while self._protecting or time.monotonic() - self._last_protected < QUIET_S:
            await asyncio.sleep(QUIET_S / 5)

    async def _measure(
        self, flow: http.HTTPFlow, policy: Policy, protected: list[tuple[ImageSlot, Protected]]
    ) -> None:
        """The audit rows of a protected upload, with what measuring each image found."""
        pending = list(protected)
        try:
            while pending:
                slot, image = pending[0]
                try:
                    await self._quiet()
                    assert self._measurer is not None
                    work = self._measurer.submit(self.protector.measure, image)
                    record = await asyncio.wrap_future(work)
                except Exception:  # the photo left protected: its row says so, unmeasured
                    log.exception("measuring a protected upload to %s failed", policy.site)
                    record = None
                pending.pop(0)
                self.outcomes.protected(flow, policy, slot, record, face_findings(image))
        finally:  # cancelled at shutdown: no row is lost, the rest go unmeasured
            for slot, image in pending:
                self.outcomes.protected(flow, policy, slot, None, face_findings(image))

    def _protect_body(self, found: FoundImages, policy: Policy, exact_size: bool) -> _Outcome:
        """Runs on the worker thread: every image of the body through the policy's filters."""
        outcome = _Outcome(body=found.body)
        # Only ask for the size-preserving encode where a size was announced: it costs quality.
        extra = {"exact_size": True} if exact_size else {}

        def transform(data: bytes, slot: ImageSlot) -> bytes:
            protected = self.protector.protect(
                data,
                policy.filters,
                policy.strength,
                profile=policy.profile,
                faces=policy.faces,
                **extra,
            )
            if exact_size and len(protected.data) != len(data):
                raise ValueError(
                    f"the size-preserving encode gave {len(protected.data)} bytes, "
                    f"not the announced {len(data)}"
                )
            outcome.protected.append((slot, protected))
            return protected.data

        outcome.body = found.rewrite(transform)
        return outcome
