"""Schemas for llama.cpp grammars: what would crash or mislead the server is re-encoded or
refused by path (apps/core/llm/grammar_safety.py). Each case below crashed, hung or was
silently ignored by llama-cpp-python 0.3.36 before."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf

from apps.core.llm import ProviderConfig
from apps.core.llm.dialects import OpenAIDialect
from apps.core.llm.grammar_patterns import safe_pattern
from apps.core.llm.grammar_safety import MAX_DEPTH, SchemaRefused, grammar_safe

GBNF_ESCAPES = {"x": 2, "u": 4, "U": 8, "t": 0, "r": 0, "n": 0, "\\": 0, '"': 0, "[": 0, "]": 0}


def gbnf_problems(grammar: str) -> list[str]:
    """What llama.cpp's grammar parser would choke on: unknown escapes, NUL, lone
    surrogates, parentheses nested deep enough to overflow its stack."""
    problems = []
    depth = max_depth = 0
    quote: str | None = None
    i = 0
    while i < len(grammar):
        c = grammar[i]
        if quote and c == "\\":
            kind = grammar[i + 1]
            if kind not in GBNF_ESCAPES:
                problems.append(f"unknown escape \\{kind} at {i}")
            digits = GBNF_ESCAPES.get(kind, 0)
            if digits:
                value = int(grammar[i + 2 : i + 2 + digits], 16)
                if value == 0 or 0xD800 <= value <= 0xDFFF:
                    problems.append(f"code point {value:#x} at {i}")
            i += 2 + digits
            continue
        if quote:
            if c == "\x00":
                problems.append(f"NUL at {i}")
            if c == quote:
                quote = None
        elif c == '"':
            quote = '"'
        elif c == "[":
            quote = "]"
        elif c == "(":
            depth += 1
            max_depth = max(max_depth, depth)
        elif c == ")":
            depth -= 1
        i += 1
    if quote or depth:
        problems.append("unbalanced grammar")
    if max_depth > 1200:
        problems.append(f"parentheses nested {max_depth} deep")
    return problems


def compiled(schema: dict[str, Any]) -> str:
    """The grammar llama.cpp would build from the checked schema (it must build one:
    when the converter fails, the server silently answers unconstrained)."""
    grammar = json_schema_to_gbnf(json.dumps(grammar_safe(schema)))
    assert gbnf_problems(grammar) == []
    return grammar


def prop(schema: Any, key: str = "a") -> dict[str, Any]:
    return {"type": "object", "properties": {key: schema}, "required": [key]}


def refused(schema: Any) -> SchemaRefused:
    with pytest.raises(SchemaRefused) as caught:
        grammar_safe(schema)
    return caught.value


def json_text(value: str) -> str:
    """The characters between the quotes of the value's JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def matches(pattern: str, text: str) -> bool:
    # The safe pattern is also a Python regex over the JSON text ([\u005C] etc.).
    return re.fullmatch(pattern[1:-1], text) is not None


AWKWARD = ['x"y', "x\\y", "xy\\", "x\ny", "x\ty", "x\u0000y", "x\u001fy", "x\U0001f600y"]


@pytest.mark.parametrize("value", AWKWARD)
def test_enum_values_the_converter_mangles_become_an_exact_pattern(value):
    safe = grammar_safe(prop({"type": "string", "enum": [value, "plain"]}))
    plain, encoded = safe["properties"]["a"]["anyOf"]
    assert plain == {"enum": ["plain"]}
    assert matches(encoded["pattern"], json_text(value))
    assert not matches(encoded["pattern"], json_text(value + "z"))
    assert not matches(encoded["pattern"], value.replace("\\", "")) or "\\" not in value
    compiled(prop({"enum": [value]}))


def test_const_with_a_quote_is_a_pattern_and_safe_values_stay_as_they_are():
    safe = grammar_safe(prop({"const": 'say "hi"'}))["properties"]["a"]
    assert safe["type"] == "string" and matches(safe["pattern"], json_text('say "hi"'))
    same = {"type": "object", "properties": {"a": {"enum": ["x", "café", 3, None, True]}}}
    assert grammar_safe(same) == same
    compiled(prop({"const": 'say "hi"'}))


def test_labels_are_exact_in_order_and_mixed_with_other_values():
    labels = ['5" screen', "C:\\temp", "multi\nline", "ok"]
    pattern = grammar_safe(prop({"type": "string", "enum": labels}))["properties"]["a"]
    encoded = pattern["anyOf"][1]["pattern"]
    for label in labels[:3]:
        assert matches(encoded, json_text(label))
    assert not matches(encoded, '5" screen')  # the bare quote would end the JSON string


@pytest.mark.parametrize(
    ("schema", "path", "words"),
    [
        (prop({"enum": [{"k": 'v"w'}]}), "properties.a.enum[0].k", "inside an object"),
        (prop({"type": "string"}, key='a"b'), 'properties["a\\"b"]', "property name"),
        (prop({"type": "string"}, key="a\\b"), 'properties["a\\\\b"]', "property name"),
        (prop({"type": "string"}, key="a\nb"), 'properties["a\\nb"]', "U+000A"),
        (prop({"type": "string"}, key="a\U0001f600"), 'properties["a😀"]', "beyond U+FFFF"),
        (prop({"type": "string"}, key=""), 'properties[""]', "empty property name"),
        (prop({"enum": []}), "properties.a.enum", "non-empty"),
        (prop({"anyOf": []}), "properties.a.anyOf", "non-empty"),
        (prop({"enum": [f"v{i}" for i in range(1001)]}), "properties.a.enum", "1000"),
        (prop({"type": "string", "maxLength": 5000}), "properties.a.maxLength", "1000"),
        (prop({"type": "array", "maxItems": 100_000}), "properties.a.maxItems", "1000"),
        (prop({"type": "string", "minLength": -1}), "properties.a.minLength", "≥ 0"),
        (prop({"type": "array", "minItems": "3"}), "properties.a.minItems", "whole number"),
        (prop({"type": "string", "minLength": 5, "maxLength": 2}), "properties.a.minLength", ""),
        (prop({"type": "foo"}), "properties.a.type", "one of"),
        (prop({"$ref": "#/$defs/nope"}), "properties.a.$ref", "does not point"),
        (prop({"$ref": "https://example.com/s.json"}), "properties.a.$ref", "local"),
        (prop({"type": "number", "enum": [float("inf")]}), "properties.a.enum[0]", "finite"),
        (prop({"type": "string", "pattern": "[a-z]+"}), "properties.a.pattern", "^"),
        (prop({"type": "string", "pattern": "^a\\$"}), "properties.a.pattern", "^"),
        (prop({"type": "string", "pattern": "^(a)\\1$"}), "properties.a.pattern", "back-ref"),
        (prop({"type": "string", "pattern": "^(?=a)a$"}), "properties.a.pattern", "(?"),
        (prop({"type": "string", "pattern": "^(a$"}), "properties.a.pattern", "never closed"),
        (prop({"type": "string", "pattern": "^[a$"}), "properties.a.pattern", "never closed"),
        (prop({"type": "string", "pattern": "^a{0,100000}$"}), "properties.a.pattern", "1000"),
        (prop({"type": "string", "pattern": "^*$"}), "properties.a.pattern", "nothing"),
        (prop({"type": "string", "pattern": "^\\bx$"}), "properties.a.pattern", "\\b"),
        (False, "", "JSON schema object"),
    ],
)
def test_what_cannot_be_made_safe_is_refused_by_path(schema, path, words):
    error = refused(schema)
    assert error.path == path
    assert words in error.reason
    assert str(error).startswith(f"{path or 'schema'}: ")


def test_refusal_names_the_callers_field():
    error = refused(prop({"type": "string", "pattern": "x"}))
    assert error.field("response_format.json_schema.schema") == (
        "response_format.json_schema.schema.properties.a.pattern"
    )
    assert refused(prop({"enum": []}, key="a b")).field("s") == 's["a b"].enum'.replace(
        's["a b"]', 's.properties["a b"]'
    )


def test_deep_nesting_is_refused_before_the_converter_recurses():
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_DEPTH + 1):
        schema = prop(schema)
    error = refused(schema)
    assert "nest" in error.reason and error.path.count("properties.a") == MAX_DEPTH + 1
    for _ in range(400):  # deeper than json.dumps can go
        schema = prop(schema)
    assert "nest" in refused(schema).reason


def test_recursion_through_an_object_is_kept_and_left_recursion_refused():
    tree = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/node"}},
        "required": ["node"],
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            }
        },
    }
    grammar = compiled(tree)
    assert "seedbed-ref-0" in grammar
    loop = {
        "$ref": "#/$defs/a",
        "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "string"}]}},
    }
    assert "refers to itself" in refused(loop).reason
    assert (
        "refers to itself"
        in refused({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}).reason
    )
    # A root that is a $ref still compiles (its definitions are collected).
    compiled(
        {"$ref": "#/$defs/x", "$defs": {"x": prop({"$ref": "#/$defs/y"}), "y": {"type": "integer"}}}
    )


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("^\\d{3}-\\d{2}$", ["123-45"], ["12-345", "123-4a"]),
        ("^a\\.b$", ["a.b"], ["axb"]),
        ('^a"b$', ['a"b'], ["ab"]),
        ("^[^,]+$", ['say "hi"', "tab\there", "back\\slash"], ["a,b", ""]),
        ("^.{1,5}$", ['"q"', "abc"], ["abcdef", "a\nb"]),
        ("^[\"']x$", ['"x', "'x"], ["x"]),
        ("^a|b$", ["a", "b"], ["ab"]),
        ("^\\S+ \\w+$", ["hi there_1"], ["hi  there"]),
        ("^(ab)+?c*$", ["abab", "abcc"], ["a"]),
        ("^[\\x41-\\x43\\u00e9]$", ["A", "C", "é"], ["D"]),
        ("^$", [""], ["a"]),
    ],
)
def test_patterns_mean_the_same_over_the_json_text(pattern, yes, no):
    safe, _ = safe_pattern(pattern)
    for text in yes:
        assert matches(safe, json_text(text)), text
    for text in no:
        assert not matches(safe, json_text(text)), text
    compiled(prop({"type": "string", "pattern": pattern}))


def test_nested_keywords_the_converter_ignores_are_dropped_and_plain_ones_kept():
    schema = {
        "type": "object",
        "description": 'a "quoted" note',
        "properties": {"a": {"type": "integer", "minimum": 3, "not": {"const": 4}}},
        "additionalProperties": {},
        "required": ["a"],
        "$defs": {"unused": {"enum": []}},
    }
    assert grammar_safe(schema) == {
        "type": "object",
        "description": 'a "quoted" note',
        "properties": {"a": {"type": "integer", "minimum": 3}},
        "additionalProperties": True,
        "required": ["a"],
    }


def test_the_llama_cpp_dialect_sends_the_safe_schema_and_others_the_original():
    schema = prop({"enum": ['x"y']})
    body = OpenAIDialect(
        ProviderConfig(
            key="l", kind="openai", base_url="http://h/v1", structured_output="json_object_schema"
        )
    ).chat_body(
        [{"role": "user", "content": "hi"}], model="m", temperature=None, top_p=None,
        max_tokens=8, stop=None, json_schema=schema, schema_name="x", extra=None, stream=False,
    )  # fmt: skip
    assert body["response_format"]["schema"] == grammar_safe(schema)
    assert "pattern" in body["response_format"]["schema"]["properties"]["a"]
    vllm = OpenAIDialect(ProviderConfig(key="v", kind="openai", base_url="http://h/v1")).chat_body(
        [{"role": "user", "content": "hi"}], model="m", temperature=None, top_p=None,
        max_tokens=8, stop=None, json_schema=schema, schema_name="x", extra=None, stream=False,
    )  # fmt: skip
    assert vllm["response_format"]["json_schema"]["schema"] == schema
