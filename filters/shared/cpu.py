"""How many threads torch computes with: every core while the machine is free, fewer while
other processes keep it busy.

torch's thread pool waits for its slowest thread at every operation, spinning while it waits.
When another process takes a core, one thread is descheduled and the others spin: measured
here with two busy processes beside it, a 12 MP photo took 14.0 s on two threads and 5.0 s
on one (2.2 s idle on two). Waiting passively (``OMP_WAIT_POLICY=PASSIVE``) avoided that
but cost 28% when the machine was idle. So the pool is sized before each photo by how many
cores other processes used in the last second (Linux's ``/proc``; elsewhere torch's default).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

import torch

__all__ = ["CpuShare", "threads_for"]

# The sampler's period, and how many samples make the last second.
SAMPLE_S = 0.25
WINDOW = 4


def threads_for(others_busy: float, cores: int) -> int:
    """Threads for the cores others leave free, rounded; at least one.

    >>> threads_for(0.2, 2), threads_for(0.8, 2), threads_for(2.0, 2), threads_for(0.4, 8)
    (2, 1, 1, 8)
    """
    return max(1, min(cores, round(cores - others_busy)))


def _busy_and_own() -> tuple[int, int, int] | None:
    """(all CPUs' busy jiffies, all jiffies, this process's jiffies), or None off Linux."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
        with open("/proc/self/stat") as handle:
            own = handle.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    # utime, stime of this process and its waited-for children (fields 14-17 of stat).
    mine = sum(int(value) for value in own[11:15])
    return sum(fields) - idle, sum(fields), mine


class CpuShare:
    """Watches how many cores other processes keep busy, and sizes torch's pool to the rest.

    A daemon thread reads ``/proc`` four times a second; :meth:`fit_threads` is cheap.
    """

    def __init__(self, cores: int | None = None) -> None:
        self.cores = cores or torch.get_num_threads()
        self._samples: deque[tuple[int, int, int]] = deque(maxlen=WINDOW + 1)
        self._lock = threading.Lock()
        first = _busy_and_own()
        self.available = first is not None
        if self.available:
            self._samples.append(first)
            threading.Thread(target=self._watch, name="veil-cpu-share", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(SAMPLE_S)
            sample = _busy_and_own()
            if sample is not None:
                with self._lock:
                    self._samples.append(sample)

    def others_busy(self) -> float:
        """Cores used by other processes, averaged over about the last second."""
        with self._lock:
            if len(self._samples) < 2:
                return 0.0
            (busy0, total0, mine0), (busy1, total1, mine1) = self._samples[0], self._samples[-1]
        elapsed = (total1 - total0) / (os.cpu_count() or 1)  # jiffies of one core
        if elapsed <= 0:
            return 0.0
        return max(0.0, (busy1 - busy0) - (mine1 - mine0)) / elapsed

    def fit_threads(self) -> int:
        """Set torch's pool to the cores others leave free; returns the thread count."""
        threads = threads_for(self.others_busy(), self.cores) if self.available else self.cores
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return threads
