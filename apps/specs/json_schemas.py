"""JSON Schema helpers for samples: validating fast and wording the first error, and
the schemas derived from others (without label enums, inferred from seed rows)."""

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator


@lru_cache(maxsize=256)
def compiled(schema_json: str) -> Callable[[Any], Any]:
    # Runs check thousands of samples: a compiled validator is ~10x faster on the (common)
    # valid path; jsonschema below only runs to word the error of an invalid one.
    return fastjsonschema.compile(json.loads(schema_json))


@lru_cache(maxsize=256)
def validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def schema_errors(schema_json: str, payload: Any, limit: int = 1) -> str | None:
    """The first `limit` problems of `payload` against the schema, or None if it fits."""
    try:
        compiled(schema_json)(payload)
        return None
    except fastjsonschema.JsonSchemaException:
        pass
    errors = sorted(validator(schema_json).iter_errors(payload), key=str)
    if not errors:
        return None
    shown = "; ".join(
        f"{'/'.join(str(p) for p in error.absolute_path) or 'sample'}: {error.message}"
        for error in errors[:limit]
    )
    more = len(errors) - limit
    return shown + (f" (and {more} more)" if more > 0 else "")


def without_enums(schema: Any) -> Any:
    """The schema minus label enums: unknown labels get their own reject reason."""
    if isinstance(schema, dict):
        return {k: without_enums(v) for k, v in schema.items() if k != "enum"}
    if isinstance(schema, list):
        return [without_enums(v) for v in schema]
    return schema


JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array"}


def infer_schema(seeds: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, Any]:
    """A schema for custom rows from their seed examples: every field seen, typed."""
    properties: dict[str, Any] = {}
    required: set[str] | None = None
    for seed in seeds:
        if not isinstance(seed, dict):
            continue
        for name, value in seed.items():
            kind = JSON_TYPES.get(type(value), "object" if isinstance(value, dict) else "string")
            properties.setdefault(name, {"type": kind})
        required = set(seed) if required is None else required & set(seed)
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(required or []),
    }
