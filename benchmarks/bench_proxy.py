"""Proxy benchmark: request latency through Veil versus plain mitmdump, upload time added,
the same with every core kept busy by other processes, and latency during a protection.

Run with `make bench`. Prints a Markdown table and writes benchmarks/results/proxy.json.
All figures come from one run on this machine; medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from batch.machine import cpu_hog  # noqa: E402
from tests.conftest import imagenet_photo, jpeg_with_private_metadata  # noqa: E402
from tests.e2e import Upstream, VeilProcess, free_port, write_upstream_certs  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "proxy.json"
# "localhost" is the protected site; "127.0.0.1" is the same upstream left unprotected.
PROTECTED, UNPROTECTED = "localhost", "127.0.0.1"
MEGAPIXELS = {1: (1155, 866), 4: (2309, 1732), 12: (4000, 3000)}


def latency_ms(client: httpx.Client, url: str, repeats: int) -> float:
    client.get(url).raise_for_status()  # opens the keep-alive connection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def upload_ms(client: httpx.Client, url: str, body: bytes, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.put(url, content=body, headers={"Content-Type": "image/jpeg"}).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def wait_audited(veil: VeilProcess, count: int, timeout_s: float = 300.0) -> None:
    """Until Veil has measured ``count`` protected uploads for its audit. Veil defers that
    while uploads keep coming; waiting for it between phases starts each one as a user's
    next batch would, with none of the batch before still being measured."""
    deadline = time.monotonic() + timeout_s
    while veil.api("GET", "/stats").json()["by_outcome"].get("protected", 0) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Veil audited fewer than {count} uploads in {timeout_s:g} s")
        time.sleep(0.2)


def latency_during(client: httpx.Client, url: str, upload: Callable[[], object]) -> float:
    """Median GET latency while ``upload`` runs in another thread: the event loop stays free."""
    worker = threading.Thread(target=upload)
    worker.start()
    time.sleep(0.3)  # the photo is on Veil's worker by now
    times = []
    while worker.is_alive():
        start = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.02)
    worker.join()
    return statistics.median(times) if times else float("nan")


def start_mitmdump(confdir: Path, bundle: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mitmdump")),
            "-q",
            "--listen-host", "127.0.0.1",
            "--listen-port", str(port),
            "--set", f"confdir={confdir}",
            "--set", f"ssl_verify_upstream_trusted_ca={bundle}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(300):
        if (confdir / "mitmproxy-ca-cert.pem").exists():
            try:
                httpx.get(f"http://127.0.0.1:{port}", timeout=1)
                break
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200, help="GETs per latency figure")
    parser.add_argument("--uploads", type=int, default=5, help="uploads per size and policy")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="veil-bench-"))
    ca, cert, key = write_upstream_certs(work, [PROTECTED, UNPROTECTED])
    upstream = Upstream(cert, key).start()
    veil = VeilProcess(work / "home", {"upstream_trusted_ca": str(ca)}).start()
    mitmdump, mitmdump_port = start_mitmdump(work / "mitmdump", ca)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"{__import__('os').cpu_count()} cores",
        "requests": args.requests,
        "uploads": args.uploads,
    }
    try:
        site = f"https://{PROTECTED}:{upstream.port}"
        plain = f"https://{UNPROTECTED}:{upstream.port}"
        trust_veil = ssl.create_default_context(cafile=str(veil.ca_cert))
        trust_veil.load_verify_locations(cafile=str(ca))
        trust_mitmdump = ssl.create_default_context(
            cafile=str(work / "mitmdump" / "mitmproxy-ca-cert.pem")
        )
        trust_site = ssl.create_default_context(cafile=str(ca))
        veil_proxy = f"http://127.0.0.1:{veil.proxy_port}"

        def put_policy(filters: list[str]) -> None:
            response = veil.api("PUT", f"/policies/{PROTECTED}", json={"filters": filters})
            response.raise_for_status()

        put_policy(["metadata", "pfgsm"])
        with httpx.Client(verify=trust_site) as direct:
            results["get_direct_ms"] = latency_ms(direct, f"{plain}/ping", args.requests)
        with httpx.Client(proxy=f"http://127.0.0.1:{mitmdump_port}", verify=trust_mitmdump) as c:
            results["get_mitmdump_ms"] = latency_ms(c, f"{plain}/ping", args.requests)
        with httpx.Client(proxy=veil_proxy, verify=trust_veil) as c:
            results["get_veil_unprotected_ms"] = latency_ms(c, f"{plain}/ping", args.requests)
            results["get_veil_protected_ms"] = latency_ms(c, f"{site}/ping", args.requests)
        results["unprotected_vs_mitmdump"] = (
            results["get_veil_unprotected_ms"] / results["get_mitmdump_ms"]  # type: ignore[operator]
        )

        uploads: list[dict[str, object]] = []
        audited = 0  # protected uploads so far, each one audit row
        with httpx.Client(proxy=veil_proxy, verify=trust_veil, timeout=300) as client:
            for megapixels, size in MEGAPIXELS.items():
                photo = jpeg_with_private_metadata(imagenet_photo("n01514859_hen"), size=size)
                baseline = upload_ms(client, f"{plain}/upload", photo, args.uploads)
                row: dict[str, object] = {
                    "megapixels": megapixels,
                    "bytes": len(photo),
                    "unprotected_ms": baseline,
                }
                for filters in (["metadata"], ["metadata", "pfgsm"]):
                    put_policy(filters)
                    took = upload_ms(client, f"{site}/upload", photo, args.uploads)
                    row["+".join(filters) + "_added_ms"] = took - baseline
                    audited += args.uploads
                    wait_audited(veil, audited)
                uploads.append(row)
                print(row, flush=True)
            # The same protected uploads with the CPU kept busy by other processes.
            put_policy(["metadata", "pfgsm"])
            with cpu_hog():
                for row in uploads:
                    size = MEGAPIXELS[row["megapixels"]]  # type: ignore[index]
                    photo = jpeg_with_private_metadata(imagenet_photo("n01514859_hen"), size=size)
                    baseline = upload_ms(client, f"{plain}/upload", photo, args.uploads)
                    took = upload_ms(client, f"{site}/upload", photo, args.uploads)
                    row["busy_metadata+pfgsm_added_ms"] = took - baseline
                    audited += args.uploads
                    wait_audited(veil, audited)
                    print(row, flush=True)
            twelve = jpeg_with_private_metadata(
                imagenet_photo("n01514859_hen"), size=MEGAPIXELS[12]
            )
            with httpx.Client(proxy=veil_proxy, verify=trust_veil, timeout=300) as other:
                results["get_veil_protected_during_12mp_ms"] = latency_during(
                    other,
                    f"{site}/ping",
                    lambda: upload_ms(client, f"{site}/upload", twelve, 1),
                )
        results["uploads_added"] = uploads
    finally:
        veil.stop()
        mitmdump.terminate()
        mitmdump.wait(10)
        upstream.stop()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nMachine: {results['machine']}")
    print("\n| keep-alive GET, median of", args.requests, "| ms |\n|---|---|")
    for key in ("direct", "mitmdump", "veil_unprotected", "veil_protected"):
        print(f"| {key.replace('_', ' ')} | {results[f'get_{key}_ms']:.2f} |")
    print(f"\nVeil unprotected / plain mitmdump: {results['unprotected_vs_mitmdump']:.2f}")
    print(
        "GET through Veil while a 12 MP photo is protected: "
        f"{results['get_veil_protected_during_12mp_ms']:.2f} ms"
    )
    print("\n| photo | bytes | metadata added (ms) | metadata+pfgsm added (ms) | the same, "
          "every core busy (ms) |\n|---|---|---|---|---|")  # fmt: skip
    for row in uploads:
        print(
            f"| {row['megapixels']} MP | {row['bytes']:,} | {row['metadata_added_ms']:.0f} | "
            f"{row['metadata+pfgsm_added_ms']:.0f} | {row['busy_metadata+pfgsm_added_ms']:.0f} |"
        )
    print(f"(medians of {args.uploads} uploads)")
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
