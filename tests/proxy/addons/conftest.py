"""The addons' unit tests: hooks called directly on test flows, with the real store and a
fake protector in place of the models (the end-to-end tests run the real ones)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from filters import FilterSettings, Protected, ProtectionError, ProtectionRecord
from filters.codecs import decode, encode, encode_to_size
from filters.metadata import MetadataFilter
from proxy.outcomes import Outcomes
from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.store import Store
from tests.conftest import a_record, jpeg_with_private_metadata, photo_path

SITE = "photos.example.com"


class FakeProtector:
    """The real codecs and metadata filter, and instead of an attack a visible mark: the
    top-left pixel turns white. No models, so the addons' tests run in milliseconds.

    ``delay`` (seconds) slows each photo, ``measure_delay`` each measurement; ``fail`` makes
    each photo raise. ``calls`` and ``measured`` count the images protected and measured,
    ``loaded`` the filter names loaded, ``whose`` the ``faces`` each call was given. With
    ``faces-blur`` in the chain, its report finds the ``found`` boxes and redacts them as a
    face filter would (the largest kept for ``bystanders``).
    """

    def __init__(
        self,
        *,
        delay: float = 0.0,
        fail: str | None = None,
        measure_delay: float = 0.0,
        found: Sequence[tuple[int, int, int, int]] = (),
    ) -> None:
        self.delay, self.fail, self.measure_delay = delay, fail, measure_delay
        self.found = list(found)
        self.calls = self.measured = 0
        self.loaded: list[str] = []
        self.whose: list[str] = []

    def load(self, filters: Sequence[str]) -> None:
        self.loaded += list(filters)

    def protect(
        self,
        data: bytes,
        filters: Sequence[str],
        strength: str = "medium",
        *,
        profile: str = "none",
        exact_size: bool = False,
        faces: str = "all",
    ) -> Protected:
        self.calls += 1
        self.whose.append(faces)
        time.sleep(self.delay)
        if self.fail:
            raise ProtectionError(self.fail)
        photo = decode(data)
        filtered = MetadataFilter().apply(photo, FilterSettings())
        pixels = filtered.photo.pixels.copy()
        pixels[0, 0] = 255
        marked = filtered.photo.with_pixels(pixels)
        output = encode_to_size(marked, len(data)) if exact_size else encode(marked)
        report = {"metadata": filtered.report, "mark": {}}
        if "faces-blur" in filters:
            kept = {"all": 0, "bystanders": min(1, len(self.found)), "none": len(self.found)}
            report["faces-blur"] = {
                "faces": [{"box": list(box), "score": 0.9} for box in self.found],
                "redacted": len(self.found) - kept[faces],
                "whose": faces,
            }
        sent = decode(output)
        return Protected(data, output, photo, sent, tuple(filters), report, profile, 1.0)

    def measure(self, protected: Protected) -> ProtectionRecord:
        time.sleep(self.measure_delay)
        self.measured += 1
        return a_record(
            sha256_before=hashlib.sha256(protected.source).hexdigest(),
            sha256_after=hashlib.sha256(protected.data).hexdigest(),
            size_before=len(protected.source),
            size_after=len(protected.data),
            width=protected.original.width,
            height=protected.original.height,
            metadata_removed=protected.metadata_removed,
            label_before="original",
            label_after="marked",
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "veil.db", seed_defaults=False)
    store.put_policy(Policy(site=SITE, filters=("metadata",), profile="none"))
    yield store
    store.close()


@pytest.fixture
def book(store: Store) -> PolicyBook:
    return PolicyBook(store)


@pytest.fixture
def outcomes(store: Store) -> Outcomes:
    return Outcomes(store)


@pytest.fixture(scope="module")
def photo() -> bytes:
    return jpeg_with_private_metadata(photo_path("chelsea"), size=(160, 120))


def flow_for(
    path: str, body: bytes = b"", host: str = SITE, method: str = "POST", **headers: str
) -> http.HTTPFlow:
    """A live flow to ``host`` carrying ``body`` as sent (no Content-Encoding undone)."""
    request = tutils.treq(
        host=host, port=443, method=method.encode(), path=path.encode(), content=b""
    )
    request.headers.clear()
    request.headers.update(headers)
    request.raw_content = body
    return tflow.tflow(req=request)
