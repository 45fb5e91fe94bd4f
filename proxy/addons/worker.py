"""The filter worker: one thread that protects images one at a time, in the fair queue's
turns (``proxy.fairqueue``: site by site, upload by upload), each within the deadline, and a
second, lower-priority thread that measures protected images for the audit.

One worker: the filters use every core already, and one photo at a time keeps memory flat.
torch keeps a pool of worker threads per calling thread: models loaded on another thread
left a second pool, and every photo took 1.4x as long.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from filters import Protected, ProtectionRecord
from proxy.fairqueue import FairQueue
from proxy.policies import Policy, image_filters
from proxy.uploads import ImageSlot

__all__ = ["FilterWorker", "ImageProtector"]

log = logging.getLogger(__name__)

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


class FilterWorker:
    """Protects the images of uploads on one thread and measures them on another."""

    def __init__(self, protector: ImageProtector) -> None:
        self.protector = protector
        self._executor: ThreadPoolExecutor | None = None
        self._measurer: ThreadPoolExecutor | None = None
        self._queue: FairQueue[_Job] = FairQueue()
        self._queued = asyncio.Event()  # set while jobs wait
        self._dispatcher: asyncio.Task[None] | None = None
        self._protecting = 0  # images on the worker now
        self._last_protected = 0.0  # time.monotonic() when the last one left it

    @property
    def running(self) -> bool:
        return self._executor is not None

    async def start(self, filters: Sequence[str]) -> None:
        """Start both threads and load the filters' models on the worker."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-filters")
        self._measurer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="veil-measure", initializer=_lower_priority
        )
        await asyncio.wrap_future(self._executor.submit(self.protector.load, filters))
        self._dispatcher = asyncio.create_task(self._dispatch())

    def stop(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for executor in (self._executor, self._measurer):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)

    async def protect(
        self,
        upload: Hashable,
        policy: Policy,
        images: list[tuple[bytes, ImageSlot]],
        exact_size: bool,
        deadline: float,
    ) -> list[Protected]:
        """Every image of one upload, protected, in order.

        Raises:
            TimeoutError: an image waited for the worker, or ran on it, past ``deadline``.
            Exception: what protecting an image raised. Either way the upload's other
                images leave the queue: a failed upload costs no more work.
        """
        loop = asyncio.get_running_loop()
        jobs = [_Job(data, slot, policy, exact_size, loop.create_future()) for data, slot in images]
        for job in jobs:
            self._queue.put(policy.site, upload, job)
        self._queued.set()
        try:
            return [await self._finished(job, deadline) for job in jobs]
        except BaseException:
            for job in [*self._queue.drop(upload), *jobs]:
                job.done.cancel()  # the worker skips what is left of this upload
            raise

    async def measure(self, image: Protected) -> ProtectionRecord:
        """The audit record of a protected image, once no upload is being protected."""
        await self._quiet()
        assert self._measurer is not None
        return await asyncio.wrap_future(self._measurer.submit(self.protector.measure, image))

    async def _finished(self, job: _Job, deadline: float) -> Protected:
        """The job's protected image, once the worker has made it within the deadline.

        Raises:
            TimeoutError: (with the reason as its message) it waited for the worker, or ran
                on it, longer than the deadline.
            Exception: what protecting it raised.
        """
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

    def _protect_image(self, job: _Job) -> Protected:
        """Runs on the worker thread: one image through its upload's filters."""
        policy = job.policy
        # Only ask for the size-preserving encode where a size was announced: it costs quality.
        extra = {"exact_size": True} if job.exact_size else {}
        protected = self.protector.protect(
            job.data,
            image_filters(policy.filters),
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
