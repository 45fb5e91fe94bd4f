"""The tiny schema checker that test_api uses on the OpenAPI description, checked itself."""

from __future__ import annotations

import pytest

from proxy.api import MAX_PAGE
from proxy.openapi import openapi_spec
from proxy.policies import Policy
from tests.proxy import schema_check
from tests.proxy.schema_check import problems, resolve, schemas_in, unchecked_keywords

ITEM = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["a", "b"]},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "note": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "count"],
    "additionalProperties": False,
}
SPEC = {
    "components": {
        "schemas": {
            "Item": ITEM,
            "Alias": {"$ref": "#/components/schemas/Item"},
            "Scores": {"type": "object", "additionalProperties": {"type": "number"}},
        }
    },
    "paths": {},
}
GOOD = {"name": "a", "count": 3, "note": None, "tags": ["x"]}


@pytest.fixture(scope="module")
def spec() -> dict:
    return openapi_spec("0.1.0", 8351, MAX_PAGE)


def test_all_matches_public_names() -> None:
    assert all(hasattr(schema_check, name) for name in schema_check.__all__)


def test_references_are_followed() -> None:
    assert resolve(SPEC, {"$ref": "#/components/schemas/Alias"}) is ITEM
    assert problems(GOOD, {"$ref": "#/components/schemas/Alias"}, SPEC) == []


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ([GOOD], "$: "),  # wrong type at the top
        ({**GOOD, "name": "c"}, "not in"),
        ({**GOOD, "count": -1}, "out of range"),
        ({**GOOD, "count": 11}, "out of range"),
        ({**GOOD, "count": True}, "$.count"),  # a bool is no integer in JSON
        ({**GOOD, "count": 1.5}, "$.count"),
        ({**GOOD, "note": 3}, "$.note"),
        ({**GOOD, "tags": ["x", 2]}, "$.tags[1]"),
        ({**GOOD, "extra": 1}, "unexpected extra"),
        ({"name": "a"}, "count missing"),
    ],
)
def test_wrong_shapes_are_named(value: object, where: str) -> None:
    found = problems(value, {"$ref": "#/components/schemas/Item"}, SPEC)
    assert len(found) == 1 and where in found[0], found


def test_open_objects_check_their_values() -> None:
    scores = {"$ref": "#/components/schemas/Scores"}
    assert problems({"a": 1, "b": 2.5}, scores, SPEC) == []
    assert problems({"a": "high"}, scores, SPEC) == ["$.a: 'high' is not ['number']"]
    assert problems({"anything": [1]}, {"type": "object"}, SPEC) == []


def test_schemas_in_finds_nested_schemas() -> None:
    found = schemas_in(SPEC)
    assert ITEM in found and ITEM["properties"]["tags"]["items"] in found
    assert SPEC["components"]["schemas"]["Scores"]["additionalProperties"] in found
    assert unchecked_keywords(SPEC) == set()
    loose = {"components": {"schemas": {"X": {"type": "string", "format": "uri", "const": "a"}}}}
    assert unchecked_keywords({**loose, "paths": {}}) == {"const"}


def test_spec_uses_only_checked_keywords(spec: dict) -> None:
    assert len(schemas_in(spec)) > 50
    assert unchecked_keywords(spec) == set()


def test_checker_catches_wrong_shapes_of_the_spec(spec: dict) -> None:
    policy = {"$ref": "#/components/schemas/Policy"}
    good = Policy("example.com").to_dict()
    assert problems(good, policy, spec) == []
    assert problems({k: v for k, v in good.items() if k != "site"}, policy, spec)
    assert problems(good | {"extra": 1}, policy, spec)
    assert problems(good | {"strength": "max"}, policy, spec)
    assert problems(good | {"enabled": 1}, policy, spec)
    assert problems(good | {"filters": []}, policy, spec)  # at least one
    assert problems(good | {"filters": ["metadata", "metadata"]}, policy, spec)
    assert problems(good | {"site": "b\u00fccher.example"}, policy, spec)  # punycode only
    assert problems(good | {"site": "*.127.0.0.1"}, policy, spec)
    page = {"$ref": "#/components/schemas/AuditPage"}
    assert problems({"items": [], "total": 0, "limit": 1, "offset": 0}, page, spec) == []
    assert problems({"items": [], "total": -1, "limit": 1, "offset": 0}, page, spec)
    assert problems({"items": [{"id": True}], "total": 1, "limit": 1, "offset": 0}, page, spec)
