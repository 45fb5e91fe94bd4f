"""A `veil bench` run's figures on the tuning photos and on the photos never tuned on.

The filters' settings were chosen on the photos of ImageNet classes 4 mod 8 only; every
other photo is held out. Same figures as the run's summary, split in two.

Usage: python benchmarks/tuning_split.py benchmarks/results/filters/results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from batch.results import PhotoResult, summarise

TUNING_CLASSES = (8, 4)  # class_index % 8 == 4


def is_tuning(photo: PhotoResult) -> bool:
    modulus, remainder = TUNING_CLASSES
    return photo.true_index % modulus == remainder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results.json that veil bench wrote")
    results = json.loads(parser.parse_args().results.read_text())
    photos = [PhotoResult(**row) for row in results["photos"]]
    keys = sorted({(p.filter, p.strength, p.profile) for p in photos}, key=str)
    print("| filter | strength | profile | photos | judge top-1 orig → prot | "
          "SSIMULACRA2 median / p10 | Butteraugli median |")  # fmt: skip
    print("|---|---|---|---|---:|---:|---:|")
    for key in keys:
        rows = [p for p in photos if (p.filter, p.strength, p.profile) == key]
        for name, part in (
            ("tuning", [p for p in rows if is_tuning(p)]),
            ("held out", [p for p in rows if not is_tuning(p)]),
        ):
            s = summarise(part, key)
            print(
                f"| {key[0]} | {key[1]} | {key[2]} | {name} ({s['photos']}) | "
                f"{s['judge_top1_original']:.1%} → {s['judge_top1_protected']:.1%} | "
                f"{s['ssimulacra2_median']} / {s['ssimulacra2_p10']} | "
                f"{s['butteraugli_median']} |"
            )


if __name__ == "__main__":
    main()
