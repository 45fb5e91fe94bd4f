"""The examples in the filters' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["budget", "formats", "judge", "metadata", "pfgsm", "quality", "registry", "robust"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"filters.{name}")
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
