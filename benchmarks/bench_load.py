"""Load benchmark: many uploads at once through a real `veil run`, and the audit after them.

1,000 photo uploads (each with GPS and a camera serial) at concurrency 16 to a protected site
(policy: metadata), each to its own path. Checks that every upload arrived protected, that the
audit holds exactly one row per upload (none lost, none twice), and how Veil's memory grew.
Prints the figures and writes benchmarks/results/load.json. Run with
`.venv/bin/python benchmarks/bench_load.py [--uploads N] [--concurrency C] [--busy]`
(--busy: every core kept busy by other processes meanwhile; results in load-busy.json).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from batch.machine import cpu_hog  # noqa: E402
from tests.conftest import imagenet_photo, jpeg_with_private_metadata  # noqa: E402
from tests.e2e import Upstream, VeilProcess, start_veil, write_upstream_certs  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "load.json"
BUSY_RESULTS = REPO / "benchmarks" / "results" / "load-busy.json"
AUDIT_WAIT_S = 60
SITE = "photos.load-bench.example"
SERIAL = b"082021001234"  # the camera serial the test photo carries


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class MemoryWatch:
    """Samples a process's resident memory every 0.1 s until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mib(self.pid))
            self._stop.wait(0.1)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def audit_rows(veil: VeilProcess, want: int, timeout: float = 300) -> list[dict]:
    """Every audit row of the site, read once ``want`` are there and no more come: rows are
    written after measuring, and pages read while rows arrive would shift under the reader."""
    deadline = time.monotonic() + timeout
    total, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = veil.api("GET", f"/audit?site={SITE}&limit=1").json()["total"]
        if now != total:
            total, steady_since = now, time.monotonic()
        elif total >= want and time.monotonic() - steady_since > 2:
            break
        time.sleep(0.5)
    rows: list[dict] = []
    while True:
        page = veil.api("GET", f"/audit?site={SITE}&limit=200&offset={len(rows)}").json()
        rows += page["items"]
        if len(rows) >= page["total"] or not page["items"]:
            return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--busy", action="store_true", help="keep every core busy meanwhile")
    args = parser.parse_args()
    photo = jpeg_with_private_metadata(imagenet_photo("n01514859_hen"), size=(320, 240))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        ca, cert, key = write_upstream_certs(tmp, [SITE])
        site = Upstream(cert, key)
        site.ca = ca  # type: ignore[attr-defined]
        site.start()
        veil = start_veil(tmp / "home", site, {SITE: ["metadata"]})
        assert veil.process is not None
        try:
            idle_mib = rss_mib(veil.process.pid)
            local = threading.local()
            latencies: list[float] = []
            statuses: collections.Counter[int] = collections.Counter()

            def upload(index: int) -> None:
                if not hasattr(local, "client"):
                    local.client = veil.client()
                start = time.perf_counter()
                response = local.client.put(
                    f"https://{SITE}/load/{index}",
                    content=photo,
                    headers={"Content-Type": "image/jpeg"},
                )
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] += 1

            busy = cpu_hog() if args.busy else contextlib.nullcontext()
            with busy, MemoryWatch(veil.process.pid) as memory:
                started = time.perf_counter()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(upload, range(args.uploads)))
                elapsed = time.perf_counter() - started
                # Rows come once each photo is measured, at a lower priority than uploads.
                rows = audit_rows(veil, args.uploads, timeout=AUDIT_WAIT_S)
            arrived = [r for r in site.received if r.path.startswith("/load/")]
            leaked = sum(r.body == photo or SERIAL in r.body for r in arrived)
            paths = collections.Counter(row["path"] for row in rows)
            figures = {
                "uploads": args.uploads,
                "concurrency": args.concurrency,
                "cores_kept_busy": (os.cpu_count() or 1) if args.busy else 0,
                "status_counts": {str(k): v for k, v in sorted(statuses.items())},
                "arrived": len(arrived),
                "arrived_distinct_paths": len({r.path for r in arrived}),
                "originals_leaked": leaked,
                f"audit_rows_within_{AUDIT_WAIT_S}_s": len(rows),
                "audit_rows_protected": sum(row["outcome"] == "protected" for row in rows),
                "audit_rows_delivered": sum(row.get("delivered") is True for row in rows),
                "audit_paths_twice": sum(count > 1 for count in paths.values()),
                "seconds": round(elapsed, 1),
                "uploads_per_second": round(args.uploads / elapsed, 1),
                "latency_median_ms": round(statistics.median(latencies) * 1000),
                "latency_p90_ms": round(statistics.quantiles(latencies, n=10)[-1] * 1000),
                "veil_rss_idle_mib": round(idle_mib),
                "veil_rss_peak_mib": round(max(memory.samples)),
                "veil_rss_end_mib": round(memory.samples[-1]),
                "machine": f"{platform.machine()}, {platform.python_version()}",
            }
        finally:
            veil.stop()
            site.stop()
        # After a clean stop (the rest written unmeasured): what the database holds.
        with sqlite3.connect(tmp / "home" / "veil.db") as db:
            stored = collections.Counter(
                path for (path,) in db.execute("SELECT path FROM audit WHERE site = ?", (SITE,))
            )
        figures["db_rows_after_stop"] = sum(stored.values())
        figures["db_paths_missing"] = args.uploads - len(stored)
        figures["db_paths_twice"] = sum(count > 1 for count in stored.values())
    (BUSY_RESULTS if args.busy else RESULTS).write_text(json.dumps(figures, indent=2) + "\n")
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
