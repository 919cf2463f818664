"""The schema a fan-out's examples imply, the answer's row shape and the call size."""

from __future__ import annotations

import json

from apps.collinear.rows import row_schema, shaped_like
from apps.collinear.services import batch_size_for


def test_the_schema_takes_every_key_typed_and_requires_the_shared_ones():
    schema = row_schema(
        [
            {"context": "a", "score": 1, "tags": ["x"], "meta": None},
            {"context": "b", "score": 2.5, "flag": True},
        ]
    )
    assert schema["properties"] == {
        "context": {"type": "string"},
        "score": {"type": "number"},  # integer and number: number
        "tags": {"type": "array"},
        "meta": {"type": "null"},
        "flag": {"type": "boolean"},
    }
    assert schema["required"] == ["context", "score"]
    assert schema["additionalProperties"] is False


def test_a_generated_row_follows_its_originals_key_order():
    original = {"conv_prefix": [], "response": {}, "context": ""}
    generated = {"context": "c", "response": {"content": "r"}, "conv_prefix": [], "extra": 1}
    assert list(json.loads(shaped_like(original, generated))) == [
        "conv_prefix",
        "response",
        "context",
        "extra",
    ]
    assert json.loads(shaped_like(original, ["not", "an", "object"])) == ["not", "an", "object"]


def test_each_call_writes_a_divisor_of_the_multiplier():
    assert [batch_size_for(m) for m in (1, 4, 10, 11, 12, 20, 97, 100)] == [
        1, 4, 10, 1, 6, 10, 1, 10,
    ]  # fmt: skip
