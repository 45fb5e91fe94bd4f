"""Veil's filters: take an image file, return a protected one and a report.

>>> from filters import Protector
>>> protector = Protector()
>>> protector.load(["metadata", "pfgsm"])  # doctest: +SKIP
>>> result = protector.protect(jpeg_bytes, ["metadata", "pfgsm"], "medium")  # doctest: +SKIP
"""

from filters.base import STRENGTHS, Chain, Filter, Filtered, FilterSettings
from filters.errors import ProtectionError, UnsupportedImageError
from filters.pipeline import ProtectionResult, Protector
from filters.registry import FILTERS, describe_filters

__all__ = [
    "FILTERS",
    "STRENGTHS",
    "Chain",
    "Filter",
    "FilterSettings",
    "Filtered",
    "ProtectionError",
    "ProtectionResult",
    "Protector",
    "UnsupportedImageError",
    "describe_filters",
]
