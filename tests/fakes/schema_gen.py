"""Generate a JSON value that validates against a (practical subset of) JSON Schema.

Covers what generation specs use: objects with properties/required, strings (lengths, a
few formats), integers and numbers with bounds, booleans, null, arrays with
minItems/maxItems/uniqueItems, enum, const, anyOf/oneOf/allOf and local $refs.
Deterministic for a given `random.Random`.
"""

from __future__ import annotations

import math
import random
from typing import Any

WORDS = [
    "amber",
    "basil",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kelp",
    "lumen",
    "meadow",
    "nectar",
    "orchid",
    "pebble",
    "quartz",
    "river",
    "saffron",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
]


def generate(schema: Any, rng: random.Random | None = None) -> Any:
    rng = rng or random.Random(0)
    return _gen(schema, rng, schema if isinstance(schema, dict) else {}, 0)


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $refs are supported, got {ref!r}")
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _gen(schema: Any, rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    if schema is True or schema is None or schema == {}:
        return rng.choice(WORDS)
    if schema is False:
        raise ValueError("cannot generate a value for the schema `false`")
    if depth > 12:
        raise ValueError("schema nests too deeply (recursive $ref?)")
    if "$ref" in schema:
        return _gen(_resolve(schema["$ref"], root), rng, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "allOf" in schema:
        return _gen(_merge_all_of(schema, root), rng, root, depth + 1)
    if "anyOf" in schema:
        return _gen(rng.choice(schema["anyOf"]), rng, root, depth + 1)
    if "oneOf" in schema:
        # The first branch: a random one could also match a sibling and break "one of".
        return _gen(schema["oneOf"][0], rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = _infer_type(schema)
    maker = _MAKERS.get(kind)
    if maker is None:
        raise ValueError(f"unsupported schema type {kind!r}")
    return maker(schema, rng, root, depth)


def _infer_type(schema: dict[str, Any]) -> str:
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if "minimum" in schema or "maximum" in schema:
        return "number"
    return "string"


def _merge_all_of(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if "$ref" in part:
            part = _resolve(part["$ref"], root)
        for key, value in part.items():
            if key == "properties":
                merged.setdefault("properties", {}).update(value)
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def _object(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    props: dict[str, Any] = schema.get("properties", {})
    out = {name: _gen(sub, rng, root, depth + 1) for name, sub in props.items()}
    for name in schema.get("required", []):
        if name not in out:  # required but undeclared: any value will do
            out[name] = rng.choice(WORDS)
    return out


def _array(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low = int(schema.get("minItems", 1))
    high = int(schema.get("maxItems", max(low, 3)))
    high = max(low, min(high, low + 4))
    count = rng.randint(low, high)
    prefix = schema.get("prefixItems", [])
    items = schema.get("items", {})
    out: list[Any] = []
    for index in range(count):
        sub = prefix[index] if index < len(prefix) else items
        value = _gen(sub, rng, root, depth + 1)
        if schema.get("uniqueItems"):
            for _ in range(20):
                if value not in out:
                    break
                value = _gen(sub, rng, root, depth + 1)
            else:
                if len(out) >= low:
                    break  # cannot find another distinct value; minItems is already met
        out.append(value)
    return out


def _string(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    fmt = schema.get("format")
    if fmt == "date":
        return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if fmt == "date-time":
        return f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z"
    if fmt == "email":
        return f"{rng.choice(WORDS)}@example.com"
    if fmt in ("uri", "url"):
        return f"https://example.com/{rng.choice(WORDS)}"
    if fmt == "uuid":
        return f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}"
    low = int(schema.get("minLength", 1))
    high = int(schema.get("maxLength", max(low, 40)))
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    while len(text) < low:
        text += " " + rng.choice(WORDS)
    return text[:high].rstrip() if len(text[:high].rstrip()) >= low else text[:high]


def _bounds(schema: dict[str, Any], step: float) -> tuple[float, float]:
    low = schema.get("minimum", -math.inf)
    high = schema.get("maximum", math.inf)
    if "exclusiveMinimum" in schema:
        low = max(low, schema["exclusiveMinimum"] + step)
    if "exclusiveMaximum" in schema:
        high = min(high, schema["exclusiveMaximum"] - step)
    if low == -math.inf:
        low = min(0, high - 100) if high != math.inf else 0
    if high == math.inf:
        high = low + 100
    return low, high


def _integer(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low, high = _bounds(schema, 1)
    low_i, high_i = math.ceil(low), math.floor(high)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int) and multiple > 0:
        first = math.ceil(low_i / multiple)
        last = math.floor(high_i / multiple)
        return rng.randint(first, max(first, last)) * multiple
    return rng.randint(low_i, max(low_i, high_i))


def _number(schema: dict[str, Any], rng: random.Random, root: dict[str, Any], depth: int) -> Any:
    low, high = _bounds(schema, 0.01)
    value = round(rng.uniform(low, high), 2)
    return min(max(value, low), high)


_MAKERS = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda schema, rng, root, depth: rng.random() < 0.5,
    "null": lambda schema, rng, root, depth: None,
}
