"""Photos wait for the one filter worker in turns: site by site, and within a site upload by
upload, so one heavy post cannot starve the next.

A 30-photo post queued whole kept the worker for a minute: a single photo sent 5 s later
waited behind it and missed its deadline. Taken in turns, that photo waits for at most one
photo of each upload ahead of it. Pure Python: the upload protector drives it from the
event loop.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["FairQueue"]

Job = TypeVar("Job")


class FairQueue(Generic[Job]):
    """Jobs taken round-robin over sites, and over the uploads of each site."""

    def __init__(self) -> None:
        # site -> upload -> its jobs, in arrival order; both rotate as jobs are taken
        self._sites: OrderedDict[str, OrderedDict[Hashable, deque[Job]]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(jobs) for uploads in self._sites.values() for jobs in uploads.values())

    def put(self, site: str, upload: Hashable, job: Job) -> None:
        """Queue ``job`` of ``upload`` to ``site`` behind the upload's other jobs."""
        self._sites.setdefault(site, OrderedDict()).setdefault(upload, deque()).append(job)

    def take(self) -> Job | None:
        """The next job in turn, or None when nothing waits."""
        if not self._sites:
            return None
        site, uploads = next(iter(self._sites.items()))
        upload, jobs = next(iter(uploads.items()))
        job = jobs.popleft()
        if jobs:
            uploads.move_to_end(upload)  # the site's next upload goes next time
        else:
            del uploads[upload]
        if uploads:
            self._sites.move_to_end(site)  # then the next site
        else:
            del self._sites[site]
        return job

    def drop(self, upload: Hashable) -> list[Job]:
        """Remove the jobs of ``upload`` still waiting (it failed or gave up); returns them."""
        dropped: list[Job] = []
        for site, uploads in list(self._sites.items()):
            dropped += uploads.pop(upload, ())
            if not uploads:
                del self._sites[site]
        return dropped
