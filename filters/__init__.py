"""Veil's filters: take an image file, return a protected one and a report.

>>> from filters import Protector
>>> protector = Protector()
>>> protector.load(["metadata", "pfgsm"])  # doctest: +SKIP
>>> protected = protector.protect(jpeg_bytes, ["metadata", "pfgsm"], "invisible")  # doctest: +SKIP
>>> record = protector.measure(protected)  # doctest: +SKIP

The house, bottom up: ``filters.codecs`` (bytes <-> ``Photo``, no torch), ``filters.shared``
(the classifiers, budgets, platform transforms and colour helpers the filters share), the
``Filter`` interface (``filters.base``), one module per filter, the registry, and the
pipeline that runs them. Names are loaded on first use, so that importing a constant such as
``STRENGTHS`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from filters.base import Chain, Filter, Filtered, FilterSettings, Toolkit
    from filters.codecs.errors import ProtectionError, UnsupportedImageError
    from filters.defaults import (
        DEFAULT_FACES,
        DEFAULT_FILTERS,
        DEFAULT_PROFILE,
        DEFAULT_STRENGTH,
        WHOSE_FACES,
    )
    from filters.findings import FaceFindings, face_findings
    from filters.pipeline import Protector
    from filters.record import Protected, ProtectionRecord
    from filters.registry import FILTERS, describe_filters
    from filters.shared.platforms import PROFILES
    from filters.shared.strengths import (
        LEGACY_STRENGTHS,
        STRENGTHS,
        canonical_strength,
        describe_strengths,
    )

# Each public name and the module that defines it.
_HOMES = {
    "Chain": "filters.base",
    "DEFAULT_FACES": "filters.defaults",
    "DEFAULT_FILTERS": "filters.defaults",
    "DEFAULT_PROFILE": "filters.defaults",
    "DEFAULT_STRENGTH": "filters.defaults",
    "FaceFindings": "filters.findings",
    "FILTERS": "filters.registry",
    "LEGACY_STRENGTHS": "filters.shared.strengths",
    "Filter": "filters.base",
    "FilterSettings": "filters.base",
    "Filtered": "filters.base",
    "PROFILES": "filters.shared.platforms",
    "Protected": "filters.record",
    "ProtectionError": "filters.codecs.errors",
    "ProtectionRecord": "filters.record",
    "Protector": "filters.pipeline",
    "STRENGTHS": "filters.shared.strengths",
    "Toolkit": "filters.base",
    "UnsupportedImageError": "filters.codecs.errors",
    "WHOSE_FACES": "filters.defaults",
    "canonical_strength": "filters.shared.strengths",
    "describe_filters": "filters.registry",
    "describe_strengths": "filters.shared.strengths",
    "face_findings": "filters.findings",
}
__all__ = [
    "DEFAULT_FACES",
    "DEFAULT_FILTERS",
    "DEFAULT_PROFILE",
    "DEFAULT_STRENGTH",
    "FILTERS",
    "LEGACY_STRENGTHS",
    "PROFILES",
    "STRENGTHS",
    "WHOSE_FACES",
    "Chain",
    "FaceFindings",
    "Filter",
    "FilterSettings",
    "Filtered",
    "Protected",
    "ProtectionError",
    "ProtectionRecord",
    "Protector",
    "Toolkit",
    "UnsupportedImageError",
    "canonical_strength",
    "describe_filters",
    "describe_strengths",
    "face_findings",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'filters' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def __dir__() -> list[str]:
    return list(__all__)
