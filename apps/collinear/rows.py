"""Free-form rows: the custom schema a fan-out's examples imply, and a generated row put
back in its original's shape for the answer."""

from __future__ import annotations

import json
from typing import Any

# JSON Schema's name for each JSON value; bool before int (a bool is an int in Python).
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
    (type(None), "null"),
)


def json_type(value: Any) -> str:
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def row_schema(examples: list[dict[str, Any]]) -> dict[str, Any]:
    """Every key the examples use, typed by what they hold there (`integer` widened to
    `number` when both occur); the keys all of them share are required, and no other key
    is allowed, so a generated row has its original's keys when the examples agree."""
    types: dict[str, set[str]] = {}
    for example in examples:
        for key, value in example.items():
            types.setdefault(key, set()).add(json_type(value))
    properties: dict[str, Any] = {}
    for key, seen in types.items():
        if {"integer", "number"} <= seen:
            seen.discard("integer")
        kinds = sorted(seen)
        properties[key] = {"type": kinds[0] if len(kinds) == 1 else kinds}
    shared = set(examples[0]).intersection(*examples[1:]) if examples else set()
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in properties if key in shared],
        "additionalProperties": False,
    }


def canonical(value: Any) -> str:
    """One text per JSON value, whatever its key order (JSONB does not keep it)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def shaped_like(original: dict[str, Any], generated: Any) -> str:
    """The generated row as the JSON string of Collinear's `generated`, its keys in the
    original's order (any others after them)."""
    if isinstance(generated, dict):
        first = [key for key in original if key in generated]
        generated = {key: generated[key] for key in [*first, *generated]}
    return json.dumps(generated, ensure_ascii=False)
