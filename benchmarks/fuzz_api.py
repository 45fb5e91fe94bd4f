"""Fuzz the control API of a real `veil run` from its own OpenAPI description (schemathesis):
every check (no 5xx, responses and status codes as described, schema-valid requests
accepted, schema-violating ones refused), coverage, fuzzing and stateful phases.

Prints schemathesis's summary and writes benchmarks/results/fuzz.json. The test suite runs
the same with a fixed seed and few examples (tests/proxy/test_api_fuzz.py). Run with
`.venv/bin/python benchmarks/fuzz_api.py [--max-examples N] [--seed S]`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e import VeilProcess  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "fuzz.json"


def fuzz(veil: VeilProcess, max_examples: int, seed: int | None) -> tuple[int, str]:
    """schemathesis against ``veil``'s API: (exit code, its report)."""
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{veil.api_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {veil.token}",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        # The site pattern's lookaheads make hypothesis discard many drafts: fine here.
        "--suppress-health-check=filter_too_much",
        "--no-color",
    ]
    if seed is not None:
        command += ["--seed", str(seed)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    return result.returncode, result.stdout + result.stderr


def counts(report: str) -> dict[str, int]:
    """The test-case figures of schemathesis's summary line."""
    found = re.search(r"(\d+) generated, (.*)", report)
    if found is None:
        return {}
    figures = {"generated": int(found.group(1))}
    for number, name in re.findall(r"(\d+) (passed|skipped|found)", found.group(2)):
        figures[name] = int(number)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        veil = VeilProcess(Path(folder) / "home", {}).start()
        try:
            code, report = fuzz(veil, args.max_examples, args.seed)
        finally:
            veil.stop()
    print(report[-4000:])
    figures = {"exit_code": code, "max_examples": args.max_examples, **counts(report)}
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(figures)


if __name__ == "__main__":
    main()
