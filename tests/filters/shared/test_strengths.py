"""filters/shared/strengths.py: the table, the old names, what each strength says it is."""

from filters import FilterSettings
from filters.shared.strengths import (
    BUDGETS,
    DEFAULT_STRENGTH,
    LEGACY_STRENGTHS,
    STRENGTHS,
    budgets_for,
    canonical_strength,
    describe_strengths,
)


def test_old_names_map_to_the_new_ones_and_new_names_stay():
    assert {canonical_strength(old) for old in LEGACY_STRENGTHS} <= set(STRENGTHS)
    assert [canonical_strength(name) for name in STRENGTHS] == list(STRENGTHS)
    assert (
        budgets_for("medium") is BUDGETS["invisible"] and budgets_for("high") is BUDGETS["strong"]
    )
    assert FilterSettings("low").strength == "invisible"


def test_each_strength_says_what_it_costs_and_buys():
    described = describe_strengths()
    assert [entry["name"] for entry in described] == list(STRENGTHS)
    assert all(entry["description"] for entry in described)
    assert [entry["name"] for entry in described if entry["default"]] == [DEFAULT_STRENGTH]
    assert [old for entry in described for old in entry["replaces"]] == list(LEGACY_STRENGTHS)
