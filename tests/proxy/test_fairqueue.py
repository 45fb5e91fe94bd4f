"""proxy/fairqueue.py: jobs in turns over sites and uploads."""

from __future__ import annotations

from proxy.fairqueue import FairQueue


def test_jobs_go_in_turns_over_sites_then_uploads() -> None:
    queue: FairQueue[str] = FairQueue()
    for index in range(3):
        queue.put("a.example", "post", f"post-{index}")
    queue.put("a.example", "single", "single")
    queue.put("b.example", "other", "other-0")
    queue.put("b.example", "other", "other-1")
    taken = [queue.take() for _ in range(len(queue))]
    assert taken == ["post-0", "other-0", "single", "other-1", "post-1", "post-2"]
    assert queue.take() is None and len(queue) == 0


def test_a_dropped_upload_leaves_the_queue_and_the_rest_keep_their_turns() -> None:
    queue: FairQueue[str] = FairQueue()
    for index in range(3):
        queue.put("a.example", "post", f"post-{index}")
    queue.put("a.example", "next", "next")
    assert queue.take() == "post-0"
    assert queue.drop("post") == ["post-1", "post-2"]
    assert queue.drop("post") == []
    assert [queue.take(), queue.take()] == ["next", None]
