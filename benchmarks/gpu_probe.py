"""Quick look at the filters on a GPU: time per photo, and each filter's torch path runs.

Prints one line per check and, last, ``limit=N``: how many photos of the benchmark fit
in ``--budget`` seconds at the measured pace (the GPU check script passes it to ``veil
bench``). ColorFool's regions come from a fixed layout here (sky on top, a person in the
middle), so the check needs no MediaPipe.

Usage: VEIL_DEVICE=cuda python benchmarks/gpu_probe.py --data DIR [--budget SECONDS]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import filters.colorfool
from filters import Protector
from filters.shared.device import compute_device
from filters.shared.regions import REGIONS, Regions


def fixed_regions(pixels: np.ndarray) -> Regions:
    """Sky over the top third, a person in the middle, the rest ``other``."""
    height, width = pixels.shape[:2]
    rows, cols = max(1, height * 64 // max(height, width)), max(1, width * 64 // max(height, width))
    labels = np.full((rows, cols), REGIONS.index("other"), np.uint8)
    labels[: rows // 3] = REGIONS.index("sky")
    labels[rows // 3 : 2 * rows // 3, cols // 3 : 2 * cols // 3] = REGIONS.index("person")
    return Regions(labels, faces=0)


def timed(protector: Protector, data: bytes, name: str) -> tuple[float, dict]:
    start = time.perf_counter()
    protected = protector.protect(data, [name], "invisible", profile="facebook", seed=1)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, protected.report[name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--overhead", type=float, default=0.15, help="bench's own s/photo")
    args = parser.parse_args()
    print(f"device={compute_device()} torch={torch.__version__}")
    files = sorted(args.data.glob("*.JPEG"))[:4]
    protector = Protector()
    protector.load(["pfgsm", "colorfool", "edgefool"])
    filters.colorfool.find_regions = fixed_regions
    times = []
    for path in files:
        seconds, report = timed(protector, path.read_bytes(), "pfgsm")
        times.append(seconds)
        print(f"pfgsm {path.name}: {seconds:.3f} s fooled={report['fooled']}")
    with Image.open(files[0]) as image:
        big = image.convert("RGB").resize((4000, 3000), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    twelve = buffer.getvalue()
    for _ in range(3):
        seconds, report = timed(protector, twelve, "pfgsm")
        print(f"pfgsm 12 MP: {seconds:.3f} s fooled={report['fooled']}")
    for name in ("colorfool", "colorfool-search", "edgefool"):
        seconds, report = timed(protector, files[1].read_bytes(), name)
        print(f"{name}: {seconds:.3f} s fooled={report['fooled']} steps={report['steps']}")
    pace = statistics.median(times[1:]) + args.overhead
    print(f"limit={min(250, int(args.budget / pace))}")


if __name__ == "__main__":
    main()
