"""Where a benchmark's figures come from: peak memory while it runs, and the machine."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.synchronize
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["MemorySampler", "cpu_hog", "environment"]

SAMPLE_EVERY_S = 0.01


class MemorySampler:
    """Peak resident memory (MB) of this process while the block runs, sampled every 10 ms.

    On CUDA the peak allocated GPU memory is kept too. Reads /proc (Linux); elsewhere it
    reports the process's lifetime peak.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.gpu_peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @staticmethod
    def rss_mb() -> float:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.peak_mb = max(self.peak_mb, self.rss_mb())

    def __enter__(self) -> MemorySampler:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self.peak_mb = self.rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        self._stop.set()
        self._thread.join()
        self.peak_mb = round(max(self.peak_mb, self.rss_mb()), 1)
        if torch.cuda.is_available():
            self.gpu_peak_mb = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def environment() -> dict[str, Any]:
    """Where the figures come from: the machine and the library versions."""
    import platform

    import torch

    cuda = torch.cuda.is_available()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10_000))


@contextlib.contextmanager
def cpu_hog() -> Iterator[None]:
    """One busy process per core for as long as the block runs: the user's other work."""
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(os.cpu_count() or 1)]
    for hog in hogs:
        hog.start()
    try:
        time.sleep(1.5)  # Veil sizes its threads by the last second of other processes' work
        yield
    finally:
        stop.set()
        for hog in hogs:
            hog.join()
