"""JSON schemas made safe for providers that compile them into a llama.cpp grammar.

llama.cpp-served models (the embedded one, any `json_object_schema` provider) turn the
schema into a GBNF grammar, and a grammar that does not parse kills the whole server
(a segfault, not an error answer). Measured with llama-cpp-python 0.3.36: `"` in an enum
value, const or property name, NUL in a literal, an empty `enum`/`anyOf`, left-recursive
`$ref`s, patterns with unknown escapes (`\\d`, `\\.`, `\\1`) and repetition counts in the
thousands crash it; backslashes, control characters and characters outside the BMP
silently produce invalid JSON; unanchored patterns, unknown types and missing `$ref`
targets make it drop the grammar and answer unconstrained; a 10,000-value enum makes
every token take seconds.

`grammar_safe(schema)` therefore returns the schema the converter should see: only the
keywords it compiles, strings it cannot write re-encoded as patterns (the model still
writes the original value: `x"y` comes back as `x"y`), `$ref`s renamed to unique
definitions, and limits on size. What cannot be made safe raises `SchemaRefused` naming
the JSON path, e.g. `properties.a.enum[0]`.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from .errors import ProviderRefused
from .grammar_patterns import MAX_REPEAT, PatternError, safe_pattern, string_pattern

MAX_DEPTH = 32  # nested schemas; the converter recurses in Python and hits its limit ~300
MAX_ENUM = 1000  # values (or anyOf branches) in one place: 10,000 makes tokens take seconds
MAX_PROPERTIES = 500
MAX_REPEAT_TOTAL = 20_000  # the grammar grows with every min/max count, added up
MAX_LITERAL_CHARS = 2000
MAX_SCHEMA_CHARS = 200_000

TYPES = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
COUNTS = ("minLength", "maxLength", "minItems", "maxItems")
DEF_PREFIX = "seedbed-ref-"  # rule names the converter derives keep only [A-Za-z0-9-]
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


# Keywords read above; any other keyword with a plain (non-container) value is kept.
HANDLED = frozenset(
    {"$ref", "anyOf", "oneOf", "allOf", "type", "const", "enum", "format", "pattern", *COUNTS}
    | {"properties", "required", "additionalProperties", "items", "prefixItems"}
)


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


class SchemaRefused(ProviderRefused):
    """A schema part that cannot be sent to a grammar-compiling provider; nothing was
    sent. `path` is where, relative to the schema (empty for the schema itself)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path or 'schema'}: {reason}")

    def field(self, prefix: str) -> str:
        """The full field name under `prefix` (e.g. `response_format.json_schema.schema`)."""
        if not self.path:
            return prefix
        return prefix + (self.path if self.path.startswith("[") else "." + self.path)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if IDENTIFIER.match(key) or key.startswith("$"):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def unsafe_char(text: str) -> str | None:
    """The first character llama-cpp-python's converter cannot write inside a literal."""
    for char in text:
        cp = ord(char)
        if cp < 0x20 or char in '"\\' or cp > 0xFFFF or 0xD800 <= cp <= 0xDFFF:
            return char
    return None


def _describe(char: str) -> str:
    return repr(char) if char in '"\\' else f"U+{ord(char):04X}"


def key_problem(name: str) -> str | None:
    """Why `name` cannot be a property name in a grammar, or None."""
    if not name:
        return "an empty property name cannot be constrained"
    char = unsafe_char(name)
    if char is not None:
        return (
            f"the property name {json.dumps(name, ensure_ascii=False)} contains "
            f"{_describe(char)}, which llama.cpp cannot constrain in a property name "
            "(quotes, backslashes, control characters and characters beyond U+FFFF)"
        )
    return None


class _Normalizer:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.defs: dict[str, str] = {}  # JSON pointer → definition name
        self.pending: list[tuple[str, str]] = []
        self.repeats = 0

    def refuse(self, path: str, reason: str) -> SchemaRefused:
        return SchemaRefused(path, reason)

    def run(self) -> dict[str, Any]:
        out = self.node(self.root, "", 0)
        definitions: dict[str, Any] = {}
        while self.pending:
            pointer, name = self.pending.pop()
            target, path = self.resolve(pointer)
            definitions[name] = self.node(target, path, 1)
        if not definitions:
            return out
        self.check_left_recursion(definitions)
        if "$ref" in out:
            # The converter only collects the $refs of a root that is not one itself.
            out = {"anyOf": [out]}
        return {**out, "$defs": definitions}

    # -- $ref --

    def resolve(self, pointer: str) -> tuple[Any, str]:
        target: Any = self.root
        path = ""
        for raw in pointer[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
                path = _join(path, part)
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
                path = _join(path, int(part))
            else:
                return None, path
        return target, path

    def ref(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, str) or not value.startswith("#"):
            raise self.refuse(path, "only local references (#/…) are supported")
        if value not in ("#",) and not value.startswith("#/"):
            raise self.refuse(path, "a reference must be a JSON pointer such as #/$defs/name")
        target, _ = self.resolve(value)
        if not isinstance(target, dict | bool):
            raise self.refuse(path, f"{value} does not point to a schema in this document")
        if value not in self.defs:
            self.defs[value] = f"{DEF_PREFIX}{len(self.defs)}"
            self.pending.append((value, self.defs[value]))
        return {"$ref": f"#/$defs/{self.defs[value]}"}

    def check_left_recursion(self, defs: dict[str, Any]) -> None:
        # A definition that can reach itself before an object or array starts is a
        # left-recursive rule: llama.cpp refuses the grammar and the server dies.
        def heads(node: Any) -> set[str]:
            if not isinstance(node, dict):
                return set()
            if "$ref" in node:
                return {node["$ref"].rsplit("/", 1)[1]}
            found: set[str] = set()
            for branch in node.get("anyOf", ()):
                found |= heads(branch)
            return found

        graph = {name: heads(schema) for name, schema in defs.items()}
        pointers = {name: pointer for pointer, name in self.defs.items()}
        for start in graph:
            seen: set[str] = set()
            stack = list(graph[start])
            while stack:
                name = stack.pop()
                if name == start:
                    raise self.refuse(
                        "",
                        f"the reference {pointers[start]} refers to itself without an "
                        "object or array in between, which no value can satisfy",
                    )
                if name not in seen:
                    seen.add(name)
                    stack.extend(graph.get(name, ()))

    # -- values --

    def literal_problem(self, value: Any, path: str) -> SchemaRefused | None:
        """A reason why a non-string enum/const value cannot be written, or None."""
        if isinstance(value, float) and not math.isfinite(value):
            return self.refuse(path, "numbers must be finite")
        if isinstance(value, str):
            if len(value) > MAX_LITERAL_CHARS:
                return self.refuse(path, f"is longer than {MAX_LITERAL_CHARS} characters")
            if char := unsafe_char(value):
                return self.refuse(
                    path,
                    f"contains {_describe(char)}, which llama.cpp cannot constrain inside an "
                    "object or array value; use a string value or drop the character",
                )
        if isinstance(value, list):
            for n, item in enumerate(value):
                if problem := self.literal_problem(item, _join(path, n)):
                    return problem
        if isinstance(value, dict):
            for key, item in value.items():
                if problem := self.literal_problem(key, path) or self.literal_problem(
                    item, _join(path, key)
                ):
                    return problem
        return None

    def choices(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        """`const`/`enum` as the converter can write them: strings with characters it
        mangles become one pattern of their exact JSON text."""
        if "const" in node:
            values, where = [node["const"]], [_join(path, "const")]
        else:
            values = node["enum"]
            if not isinstance(values, list) or not values:
                raise self.refuse(_join(path, "enum"), "must be a non-empty list")
            if len(values) > MAX_ENUM:
                raise self.refuse(_join(path, "enum"), f"has more than {MAX_ENUM} values")
            where = [_join(_join(path, "enum"), n) for n in range(len(values))]
        plain: list[Any] = []
        encoded: list[str] = []
        for value, at in zip(values, where, strict=True):
            if isinstance(value, str) and len(value) <= MAX_LITERAL_CHARS and unsafe_char(value):
                try:
                    encoded.append(string_pattern(value))
                except PatternError as exc:
                    raise self.refuse(at, str(exc)) from None
                continue
            if problem := self.literal_problem(value, at):
                raise problem
            plain.append(value)
        if not encoded:
            return {"const": plain[0]} if "const" in node else {"enum": plain}
        pattern = {"type": "string", "pattern": "^(" + "|".join(encoded) + ")$"}
        return {"anyOf": [{"enum": plain}, pattern]} if plain else pattern

    def count(self, node: dict[str, Any], path: str, out: dict[str, Any]) -> None:
        for key in COUNTS:
            if key not in node:
                continue
            value = node[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.refuse(_join(path, key), "must be a whole number ≥ 0")
            if value > MAX_REPEAT:
                raise self.refuse(
                    _join(path, key),
                    f"is {value}; llama.cpp grammars are limited to {MAX_REPEAT} here",
                )
            self.repeats += value
            out[key] = value
        for low, high in (("minLength", "maxLength"), ("minItems", "maxItems")):
            if low in out and high in out and out[low] > out[high]:
                raise self.refuse(_join(path, low), f"is larger than {high}")
        if self.repeats > MAX_REPEAT_TOTAL:
            raise self.refuse(
                path,
                f"the schema's counts (minItems, maxLength…) add up to over {MAX_REPEAT_TOTAL}",
            )

    # -- schemas --

    def node(self, node: Any, path: str, depth: int) -> dict[str, Any]:
        if node is True:
            return {}
        if not isinstance(node, dict):
            raise self.refuse(path, "must be a JSON schema object")
        if depth > MAX_DEPTH:
            raise self.refuse(path, f"schemas nest more than {MAX_DEPTH} levels deep")
        if "$ref" in node:
            # The converter ignores every other keyword next to a $ref.
            return self.ref(node["$ref"], _join(path, "$ref"))
        for key in ("anyOf", "oneOf"):
            if key in node:
                branches = node.get("oneOf") or node.get("anyOf")
                if not isinstance(branches, list) or not branches:
                    raise self.refuse(_join(path, key), "must be a non-empty list of schemas")
                if len(branches) > MAX_ENUM:
                    raise self.refuse(_join(path, key), f"has more than {MAX_ENUM} schemas")
                which = "oneOf" if node.get("oneOf") else "anyOf"
                return {
                    "anyOf": [
                        self.node(branch, _join(_join(path, which), n), depth + 1)
                        for n, branch in enumerate(branches)
                    ]
                }
        out: dict[str, Any] = {}
        kind = node.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            if not kinds or any(k not in TYPES for k in kinds) or len(set(kinds)) != len(kinds):
                raise self.refuse(_join(path, "type"), f"must be one of {', '.join(sorted(TYPES))}")
            out["type"] = kind
            if isinstance(kind, list):
                return out  # the converter only looks at the types of a type list
        if "const" in node or "enum" in node:
            return self.choices(node, path)
        if isinstance(node.get("format"), str):
            out["format"] = node["format"]
        self.count(node, path, out)
        if "pattern" in node:
            at = _join(path, "pattern")
            if not isinstance(node["pattern"], str):
                raise self.refuse(at, "must be a string")
            try:
                out["pattern"], repeats = safe_pattern(node["pattern"])
            except PatternError as exc:
                raise self.refuse(at, str(exc)) from None
            self.repeats += repeats
        self.object_parts(node, path, depth, out)
        self.array_parts(node, path, depth, out)
        for key, value in node.items():
            # Plain annotations and bounds (description, minimum…) are never compiled by
            # llama-cpp-python; llama.cpp's own server honours some, so they stay.
            if key not in out and key not in HANDLED and _scalar(value):
                out[key] = value
        return out

    def object_parts(
        self, node: dict[str, Any], path: str, depth: int, out: dict[str, Any]
    ) -> None:
        if "properties" in node:
            at = _join(path, "properties")
            properties = node["properties"]
            if not isinstance(properties, dict):
                raise self.refuse(at, "must be an object of name: schema")
            if len(properties) > MAX_PROPERTIES:
                raise self.refuse(at, f"has more than {MAX_PROPERTIES} properties")
            out["properties"] = {}
            for name, schema in properties.items():
                if problem := key_problem(name):
                    raise self.refuse(_join(at, name), problem)
                out["properties"][name] = self.node(schema, _join(at, name), depth + 1)
        if "required" in node:
            required = node["required"]
            if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
                raise self.refuse(_join(path, "required"), "must be a list of property names")
            out["required"] = required
        if "additionalProperties" in node:
            extra = node["additionalProperties"]
            at = _join(path, "additionalProperties")
            out["additionalProperties"] = (
                extra if isinstance(extra, bool) else self.node(extra, at, depth + 1) or True
            )
        if "allOf" in node:
            parts = node["allOf"]
            if not isinstance(parts, list) or not parts:
                raise self.refuse(_join(path, "allOf"), "must be a non-empty list of schemas")
            out["allOf"] = [
                self.node(part, _join(_join(path, "allOf"), n), depth + 1)
                for n, part in enumerate(parts)
            ]

    def array_parts(self, node: dict[str, Any], path: str, depth: int, out: dict[str, Any]) -> None:
        for key in ("items", "prefixItems"):
            if key not in node:
                continue
            items, at = node[key], _join(path, key)
            if isinstance(items, list):
                if not items and key == "prefixItems":
                    raise self.refuse(at, "must be a non-empty list of schemas")
                out[key] = [
                    self.node(item, _join(at, n), depth + 1) for n, item in enumerate(items)
                ]
            else:
                out[key] = self.node(items, at, depth + 1)


@lru_cache(maxsize=256)
def _safe_json(schema_json: str) -> str:
    schema = json.loads(schema_json)
    if not isinstance(schema, dict):
        raise SchemaRefused("", "must be a JSON schema object")
    out = _Normalizer(schema).run()
    text = json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_SCHEMA_CHARS:
        raise SchemaRefused("", f"is larger than {MAX_SCHEMA_CHARS:,} characters once encoded")
    return text


def grammar_safe(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as llama.cpp's grammar compiler can take it; SchemaRefused otherwise.

    Cached on the schema's JSON: a run sends the same few schemas thousands of times."""
    try:
        schema_json = json.dumps(schema, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        raise SchemaRefused("", "must be plain JSON, nested at most a few dozen levels") from None
    if len(schema_json) > MAX_SCHEMA_CHARS:
        raise SchemaRefused("", f"is larger than {MAX_SCHEMA_CHARS:,} characters")
    return json.loads(_safe_json(schema_json))  # type: ignore[no-any-return]
