"""The upload protector: every image of a buffered upload to a protected site goes through
the site's filters on one worker thread, each within a deadline, or the failure rule applies.

The photos of all uploads wait for the worker in turns (``proxy.fairqueue``): site by site,
upload by upload. When one photo fails or misses its deadline, its upload's other photos
leave the queue at once: a discarded upload costs no more work.

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
from proxy.decoding import decode_capped
from proxy.fairqueue import FairQueue
from proxy.flows import WATCHED, flow_hosts, upload_request
from proxy.outcomes import Outcomes
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.settings import DEFAULT_DEADLINE_S
from proxy.streamguard import MAX_BUFFERED_BODY
from proxy.uploads import FoundImages, ImageSlot, find_images

__all__ = ["ImageProtector", "UploadProtector"]

log = logging.getLogger(__name__)

# More images than any platform takes in one post (Instagram 20, X 4): a body with more is
# a denial of service on the worker, not a post.
MAX_IMAGES_PER_UPLOAD = 100
# A buffered body decoded from its Content-Encoding may be no larger than one held as sent.
MAX_DECODED = MAX_BUFFERED_BODY
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


@dataclass(eq=False)
class _Job:
    """One image of an upload, waiting for the worker or on it."""

    data: bytes
    slot: ImageSlot
    policy: Policy
    exact_size: bool
    done: asyncio.Future[Protected]
    started: asyncio.Event = field(default_factory=asyncio.Event)
    started_at: float = 0.0


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
        self._queue: FairQueue[_Job] = FairQueue()
        self._queued = asyncio.Event()  # set while jobs wait
        self._dispatcher: asyncio.Task[None] | None = None
        self._protecting = 0  # images on the worker now
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
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def measured(self, timeout: float | None = None) -> None:
        """Wait until the uploads already sent are measured and their audit rows written."""
        if self._measuring:
            await asyncio.wait(set(self._measuring), timeout=timeout)

    async def done(self) -> None:
        await self.measured(MEASURE_WAIT_S)  # the audit rows of uploads already sent
        for task in set(self._measuring):  # the rest are written unmeasured
            task.cancel()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        await asyncio.gather(*self._measuring, return_exceptions=True)
        self.outcomes.stop()  # rows still waiting on a site's answer are written without it
        for executor in (self._executor, self._measurer):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)

    def response(self, flow: http.HTTPFlow) -> None:
        self.outcomes.answered(flow)  # the audit says the site got it only now
        watched = flow.metadata.pop(WATCHED, None)
        if watched is not None and flow.response is not None:
            watched(flow.response.status_code, flow.response.content or b"")

    def error(self, flow: http.HTTPFlow) -> None:
        self.outcomes.answered(flow)  # no answer: refused, timed out, or the client gave up

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
        raw = flow.request.raw_content or b""
        try:
            body = decode_capped(raw, flow.request.headers.get("content-encoding"), MAX_DECODED)
        except ValueError as error:
            # Undecodable, or a bomb: we cannot see inside, so we cannot vouch for it.
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
        images = found.images()
        if len(images) > MAX_IMAGES_PER_UPLOAD:
            reason = f"{len(images)} images in one upload; Veil protects {MAX_IMAGES_PER_UPLOAD}"
            self.outcomes.fail(flow, policy, found.slots, reason)
            return
        loop = asyncio.get_running_loop()
        jobs = [
            _Job(data, slot, policy, plan.exact_size, loop.create_future()) for data, slot in images
        ]
        upload = flow.id
        for job in jobs:
            self._queue.put(policy.site, upload, job)
        self._queued.set()
        try:
            protected = [await self._finished(job) for job in jobs]
            results = iter(protected)
            body = found.rewrite(lambda _data, _slot: next(results).data)
        except Exception as error:  # any failure of protection falls under the policy's rule
            for job in [*self._queue.drop(upload), *jobs]:
                job.done.cancel()  # the worker skips what is left of this upload
            reason = str(error) or type(error).__name__
            self.outcomes.fail(flow, policy, found.slots, reason)
            return
        flow.request.content = body  # re-applies Content-Encoding, fixes Content-Length
        if plan.finish is not None:
            sizes = [(p.original.width, p.original.height) for p in protected]
            for name, value in plan.finish(body, sizes).headers.items():
                flow.request.headers[name] = value
        # The upload leaves now; measuring it for the audit (labels, visibility) comes after.
        pairs = list(zip(found.slots, protected, strict=True))
        task = asyncio.create_task(self._measure(flow, policy, pairs))
        self._measuring.add(task)
        task.add_done_callback(self._measuring.discard)

    async def _finished(self, job: _Job) -> Protected:
        """The job's protected image, once the worker has made it within the deadline.

        Raises:
            TimeoutError: (with the reason as its message) it waited for the worker, or ran
                on it, longer than the deadline.
            Exception: what protecting it raised.
        """
        deadline = ctx.options.filter_deadline_s
        try:
            # Photos of other uploads go in turns with this one's, each within the deadline.
            await asyncio.wait_for(job.started.wait(), timeout=deadline)
        except TimeoutError:
            raise TimeoutError(
                f"Veil was busy: no filter worker came free in {deadline:g} s"
            ) from None
        left = deadline - (time.monotonic() - job.started_at)
        try:
            return await asyncio.wait_for(asyncio.shield(job.done), timeout=max(left, 0))
        except TimeoutError:
            raise TimeoutError(f"protection exceeded its deadline of {deadline:g} s") from None

    async def _dispatch(self) -> None:
        """Feed the worker one image at a time, in the fair queue's turns."""
        assert self._executor is not None
        while True:
            job = self._queue.take()
            if job is None:
                self._queued.clear()
                await self._queued.wait()
                continue
            if job.done.done():  # its upload failed already
                continue
            job.started_at = time.monotonic()
            job.started.set()
            self._protecting += 1
            try:
                result = await asyncio.wrap_future(self._executor.submit(self._protect_image, job))
            except Exception as error:
                if not job.done.done():
                    job.done.set_exception(error)
            else:
                if not job.done.done():
                    job.done.set_result(result)
            finally:
                self._protected_one()

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

    def _protect_image(self, job: _Job) -> Protected:
        """Runs on the worker thread: one image through its upload's filters."""
        policy = job.policy
        # Only ask for the size-preserving encode where a size was announced: it costs quality.
        extra = {"exact_size": True} if job.exact_size else {}
        protected = self.protector.protect(
            job.data,
            policy.filters,
            policy.strength,
            profile=policy.profile,
            faces=policy.faces,
            **extra,
        )
        if job.exact_size and len(protected.data) != len(job.data):
            raise ValueError(
                f"the size-preserving encode gave {len(protected.data)} bytes, "
                f"not the announced {len(job.data)}"
            )
        return protected
