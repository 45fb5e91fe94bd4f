"""A tiny JSON Schema checker for the control API's OpenAPI description.

jsonschema is not installed here, so this covers only the keywords the spec uses (CHECKED);
``unchecked_keywords`` lets a test keep the spec to them, since an unchecked keyword would
pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "CHECKED",
    "NOTES",
    "PY_TYPES",
    "problems",
    "resolve",
    "schemas_in",
    "unchecked_keywords",
]

CHECKED = frozenset(
    {"$ref", "type", "enum", "properties", "required", "additionalProperties", "items"}
    | {"minimum", "maximum", "pattern", "minItems", "maxItems", "uniqueItems"}
    | {"minLength", "maxLength"}
)
# Keywords that describe and never constrain.
NOTES = frozenset({"description", "format", "default"})
PY_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def resolve(spec: dict, schema: dict) -> dict:
    """Follow ``#/components/schemas/...`` references to the schema they name."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def problems(value: object, schema: dict, spec: dict, where: str = "$") -> list[str]:
    """Where the value breaks the schema (empty when it conforms)."""
    schema = resolve(spec, schema)
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(PY_TYPES[name](value) for name in types):
            return [f"{where}: {value!r} is not {types}"]
    found = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in {schema['enum']}")
    low, high = schema.get("minimum", value), schema.get("maximum", value)
    if PY_TYPES["number"](value) and not low <= value <= high:
        found.append(f"{where}: {value!r} out of range")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, str) and not (
        schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
    ):
        found.append(f"{where}: {len(value)} characters")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            found.append(f"{where}: {len(value)} items")
        if schema.get("uniqueItems") and len(set(map(repr, value))) < len(value):
            found.append(f"{where}: items repeat")
    if isinstance(value, dict):
        found += [
            f"{where}: {key} missing" for key in schema.get("required", ()) if key not in value
        ]
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                found += problems(item, properties[key], spec, f"{where}.{key}")
            elif extra is False:
                found.append(f"{where}: unexpected {key}")
            elif isinstance(extra, dict):
                found += problems(item, extra, spec, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(item, schema["items"], spec, f"{where}[{index}]")
    return found


def schemas_in(spec: dict) -> list[dict]:
    """Every schema object of the document, nested ones included."""
    roots = list(spec["components"]["schemas"].values())
    for operations in spec["paths"].values():
        for operation in operations.values():
            roots += [param["schema"] for param in operation.get("parameters", [])]
            for part in [operation.get("requestBody", {}), *operation["responses"].values()]:
                roots += [media["schema"] for media in part.get("content", {}).values() if media]
    found, stack = [], roots
    while stack:
        schema = stack.pop()
        found.append(schema)
        stack += list(schema.get("properties", {}).values())
        stack += [schema[key] for key in ("items", "additionalProperties") if key in schema]
        stack = [item for item in stack if isinstance(item, dict)]
    return found


def unchecked_keywords(spec: dict) -> set[str]:
    """Keywords used somewhere in the spec's schemas that ``problems`` would ignore."""
    return {key for schema in schemas_in(spec) for key in schema} - CHECKED - NOTES
