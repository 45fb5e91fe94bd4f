"""The control API of a real `veil run`, fuzzed from its own OpenAPI description: no 5xx, and
no disagreement between the description and the server (benchmarks/fuzz_api.py runs more)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.fuzz_api import counts, fuzz
from tests.e2e import VeilProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def veil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VeilProcess]:
    process = VeilProcess(tmp_path_factory.mktemp("veil-home"), {}).start()
    yield process
    process.stop()


def test_the_api_holds_to_its_description_under_fuzzing(veil: VeilProcess) -> None:
    code, report = fuzz(veil, max_examples=25, seed=15)
    assert code == 0, report[-6000:]
    figures = counts(report)
    assert figures["generated"] >= 200 and figures["generated"] == figures["passed"], figures
