"""filters/shared/cpu.py: torch's thread pool sized to the cores other processes leave free."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
import torch

from filters.shared.cpu import CpuShare, threads_for

CORES = os.cpu_count() or 1


def burn(seconds: float) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        pass


def test_threads_follow_the_free_cores():
    assert threads_for(0.0, 2) == 2 and threads_for(0.6, 2) == 1 and threads_for(5.0, 2) == 1
    assert threads_for(1.0, 8) == 7


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc")
def test_a_busy_machine_gets_one_thread_and_a_free_one_all():
    share = CpuShare(cores=CORES)
    before = torch.get_num_threads()
    hogs = [multiprocessing.Process(target=burn, args=(3.0,)) for _ in range(CORES)]
    try:
        for hog in hogs:
            hog.start()
        time.sleep(1.5)  # the sampler's window fills with the hogs' work
        assert share.others_busy() > CORES - 0.6
        assert share.fit_threads() == 1 and torch.get_num_threads() == 1
    finally:
        for hog in hogs:
            hog.join()
    time.sleep(1.5)
    assert share.others_busy() < 0.6
    assert share.fit_threads() == CORES
    torch.set_num_threads(before)
