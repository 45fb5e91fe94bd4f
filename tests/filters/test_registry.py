"""The contract every registered filter keeps, and the package's public surface."""

from __future__ import annotations

import json

import numpy as np
import pytest

import filters
from filters import FILTERS, STRENGTHS, FilterSettings, describe_filters
from filters.codecs import decode, encode
from tests.photos import PHOTOS, encoded, opened, real_image


def inputs() -> dict[str, bytes]:
    rgba = real_image(PHOTOS[2], size=(200, 150)).convert("RGBA")
    rgba.putalpha(180)
    return {
        "JPEG": encoded(real_image(PHOTOS[2], size=(200, 150)), "JPEG", quality=88),
        "PNG": encoded(rgba, "PNG"),
        "WEBP": encoded(real_image(PHOTOS[2], size=(200, 150)), "WEBP", lossless=True),
    }


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_every_filter_keeps_size_format_alpha_and_reports_json(toolkit, name, kind):
    data = inputs()[kind]
    photo = decode(data)
    result = FILTERS[name].create(toolkit).apply(photo, FilterSettings("low", seed=0))
    assert result.photo.pixels.shape == photo.pixels.shape
    assert result.photo.pixels.dtype == np.uint8
    assert result.photo.format == photo.format and result.photo.mode == photo.mode
    if photo.alpha is not None:
        assert np.array_equal(result.photo.alpha, photo.alpha)
    image = opened(encode(result.photo))
    assert image.format == kind and image.size == (200, 150)
    json.dumps(result.report)


def test_describe_filters_lists_the_registry():
    described = describe_filters()
    assert [entry["name"] for entry in described] == list(FILTERS)
    assert all(entry["description"] for entry in described)
    assert STRENGTHS == ("invisible", "subtle", "strong")


def test_public_surface_matches_all():
    public = {name for name in dir(filters) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(filters, name)).__name__ == "module"}
    assert set(filters.__all__) == public - modules
