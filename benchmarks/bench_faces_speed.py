"""How long faces-cloak takes: a photo with five faces, and a 12 MP photo with three.

Both from ../shared/data/faces: the two group photos of two and three people side by side
(2000 px across), and the group of three upscaled to 4000 x 2856. Each is protected
``--runs`` times at the invisible strength for the facebook profile, idle and with a
process keeping every core busy; medians are printed and written to a JSON file.

Usage: python benchmarks/bench_faces_speed.py [--runs 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

from PIL import Image

from batch.samples import DEFAULT_DATA
from filters import Protector

FACES = DEFAULT_DATA.parent / "faces"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def five_faces() -> bytes:
    with (
        Image.open(FACES / "groups/two_people.jpg") as two,
        Image.open(FACES / "groups/obama_and_biden.jpg") as three,
    ):
        two, three = two.convert("RGB"), three.convert("RGB")
        two = two.resize((1000, round(two.height * 1000 / two.width)))
        three = three.resize((1000, round(three.height * 1000 / three.width)))
        canvas = Image.new("RGB", (2000, max(two.height, three.height)), (128, 128, 128))
        canvas.paste(two, (0, 0))
        canvas.paste(three, (1000, 0))
        return _jpeg(canvas)


def twelve_megapixels() -> bytes:
    with Image.open(FACES / "groups/obama_and_biden.jpg") as image:
        return _jpeg(image.convert("RGB").resize((4000, 2856), Image.Resampling.LANCZOS))


def _spin() -> None:
    while True:
        pass


def _times(protector: Protector, data: bytes, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        protector.protect(data, ["faces-cloak"], "invisible", profile="facebook")
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/faces-speed.json"))
    args = parser.parse_args()
    protector = Protector()
    protector.load(["faces-cloak"])
    photos = {"five faces, 2000 px": five_faces(), "three faces, 12 MP": twelve_megapixels()}
    protector.protect(photos["five faces, 2000 px"], ["faces-cloak"], "invisible")  # warm up
    results = {}
    for load in ("idle", "busy"):
        hogs = []
        if load == "busy":
            hogs = [
                multiprocessing.Process(target=_spin, daemon=True)
                for _ in range(os.cpu_count() or 2)
            ]
            for hog in hogs:
                hog.start()
        try:
            for name, data in photos.items():
                times = _times(protector, data, args.runs)
                results[f"{name}, {load}"] = {
                    "median_s": round(statistics.median(times), 2),
                    "runs_s": [round(t, 2) for t in times],
                }
                each = ", ".join(f"{t:.2f}" for t in times)
                print(f"{name}, {load}: median {statistics.median(times):.2f} s ({each})")
        finally:
            for hog in hogs:
                hog.terminate()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
