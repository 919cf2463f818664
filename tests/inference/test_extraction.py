"""Extraction without HTTP: the schema a caller sends, what the model is asked, and what
Seedbed makes of the answer."""

from __future__ import annotations

import json

import jsonschema
import pytest
from django.core.exceptions import ValidationError

from apps.core.llm import ProviderBadResponse
from apps.inference.gateway.extraction import result_of
from apps.inference.gateway.schema import json_schema, spec_parse

TEXT = "Paris is in France. paris, Texas is not."


def test_schema_shapes_are_accepted():
    spec = spec_parse(
        {
            "entities": {"city": "a city", "country": ""},
            "classifications": [{"task": "t", "labels": {"a": "first", "b": "second"}}],
            "structures": [
                {
                    "name": "place",
                    "fields": ["name", {"name": "tags", "dtype": "list", "choices": ["x"]}],
                }
            ],
            "relations": {"located_in": {"head": "city", "tail": "country"}, "near": "close"},
        }
    )
    assert list(spec.entities) == ["city", "country"]
    assert spec.classifications[0].labels == {"a": "first", "b": "second"}
    assert [f.dtype for f in spec.structures[0].fields] == ["str", "list"]
    assert [(r.name, r.head, r.description) for r in spec.relations] == [
        ("located_in", "city", ""),
        ("near", "", "close"),
    ]


def test_the_model_schema_is_strict_and_valid():
    spec = spec_parse(
        {
            "entities": ["city"],
            "classifications": [
                {"task": "t", "labels": ["a", "b"]},
                {"task": "m", "labels": ["x", "y"], "multi_label": True},
            ],
            "structures": {"place": ["name"]},
            "relations": ["near"],
        }
    )
    schema = json_schema(spec)
    jsonschema.Draft202012Validator.check_schema(schema)

    def strict(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert sorted(node["required"]) == sorted(node["properties"])
            for value in node.values():
                strict(value)
        elif isinstance(node, list):
            for value in node:
                strict(value)

    strict(schema)
    answer = {
        "entities": [{"text": "Paris", "label": "city", "confidence": 0.9}],
        "classifications": {
            "t": {"label": "a", "confidence": 1},
            "m": {"labels": [{"label": "x", "confidence": 0.5}]},
        },
        "structures": {"place": [{"fields": {"name": "Paris"}, "confidence": 0.7}]},
        "relations": [{"head": "Paris", "type": "near", "tail": "France", "confidence": 0.5}],
    }
    jsonschema.validate(answer, schema)


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ([], "schema"),
        ({"entities": "city"}, "schema.entities"),
        ({"entities": ["a", "a"]}, "schema.entities[1]"),
        ({"entities": ["x" * 101]}, "schema.entities[0]"),
        ({"classifications": [{"labels": ["a"]}]}, "schema.classifications[0].task"),
        ({"classifications": [{"task": "t", "labels": ["a"], "multi_label": "yes"}]},
         "schema.classifications[0].multi_label"),
        ({"structures": {"s": [{"name": "f", "dtype": "int"}]}},
         "schema.structures.s.fields[0].dtype"),
        ({"relations": [{"head": "a"}]}, "schema.relations[0].name"),
    ],
)  # fmt: skip
def test_bad_schemas_name_the_field(schema, field):
    with pytest.raises(ValidationError) as caught:
        spec_parse(schema)
    assert field in caught.value.message_dict


def test_entities_are_located_exactly_and_the_rest_dropped():
    spec = spec_parse({"entities": ["city", "country"]})
    answer = {
        "entities": [
            {"text": "Paris", "label": "city", "confidence": 0.9},
            {"text": "PARIS", "label": "city", "confidence": 0.8},  # the second one
            {"text": "France", "label": "country"},  # no confidence: trusted
            {"text": "Lyon", "label": "city", "confidence": 0.9},  # not in the text
            {"text": "Texas", "label": "state", "confidence": 0.9},  # not a label asked for
            {"text": "Texas", "label": "country", "confidence": 0.4},  # under the threshold
            {"text": "Texas", "label": "city", "confidence": 3},  # clamped
            "garbage",
        ]
    }
    result = result_of(spec, json.dumps(answer), TEXT, 0.5)
    assert result["entities"] == [
        {"text": "Paris", "label": "city", "start": 0, "end": 5, "confidence": 0.9},
        {"text": "France", "label": "country", "start": 12, "end": 18, "confidence": 1.0},
        {"text": "paris", "label": "city", "start": 20, "end": 25, "confidence": 0.8},
        {"text": "Texas", "label": "city", "start": 27, "end": 32, "confidence": 1.0},
    ]
    for entity in result["entities"]:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]
    assert result["classifications"] == [] and result["relations"] == []
    assert result["structures"] == {}


def test_threshold_zero_keeps_everything_located():
    spec = spec_parse({"entities": ["country"]})
    answer = {"entities": [{"text": "Texas", "label": "country", "confidence": 0.0}]}
    assert len(result_of(spec, json.dumps(answer), TEXT, 0.0)["entities"]) == 1
    assert result_of(spec, json.dumps(answer), TEXT, 0.01)["entities"] == []


def test_json_wrapped_in_prose_is_read_and_garbage_refused():
    spec = spec_parse({"entities": ["city"]})
    wrapped = 'Sure! ```json\n{"entities": [{"text": "Paris", "label": "city"}]}\n```'
    assert result_of(spec, wrapped, TEXT, 0.5)["entities"][0]["end"] == 5
    with pytest.raises(ProviderBadResponse):
        result_of(spec, "I cannot help with that.", TEXT, 0.5)


def test_classifications_single_and_multi():
    spec = spec_parse(
        {
            "classifications": [
                {"task": "topic", "labels": ["geo", "food"]},
                {"task": "tags", "labels": ["a", "b", "c"], "multi_label": True},
                {"task": "missing", "labels": ["x"]},
            ]
        }
    )
    answer = {
        "classifications": {
            "topic": {"label": "geo", "confidence": 0.7},
            "tags": {
                "labels": [
                    {"label": "a", "confidence": 0.9},
                    {"label": "b", "confidence": 0.6},
                    {"label": "c", "confidence": 0.2},
                    {"label": "zzz", "confidence": 1},
                ]
            },
        }
    }
    assert result_of(spec, json.dumps(answer), TEXT, 0.5)["classifications"] == [
        {"task": "topic", "label": "geo", "confidence": 0.7},
        {"task": "tags", "labels": ["a", "b"], "confidence": 0.6},
    ]


def test_structures_and_relations():
    spec = spec_parse(
        {
            "structures": {"place": ["name", {"name": "kind", "choices": ["city", "country"]}]},
            "relations": ["in"],
        }
    )
    answer = {
        "structures": {
            "place": [
                {"fields": {"name": "Paris", "kind": "city"}, "confidence": 0.9},
                {"fields": {"name": "Atlantis", "kind": "myth"}, "confidence": 0.9},
                {"fields": {"name": "", "kind": ""}, "confidence": 0.9},
            ]
        },
        "relations": [
            {"head": "Paris", "type": "in", "tail": "France", "confidence": 0.9},
            {"head": "paris", "type": "in", "tail": "Texas", "confidence": 0.9},
            {"head": "Paris", "type": "in", "tail": "Spain", "confidence": 0.9},
        ],
    }
    result = result_of(spec, json.dumps(answer), TEXT, 0.5)
    assert result["structures"] == {
        "place": [{"name": "Paris", "kind": "city"}, {"name": "Atlantis", "kind": None}]
    }
    assert [(r["head"]["start"], r["tail"]["text"]) for r in result["relations"]] == [
        (0, "France"),
        (20, "Texas"),
    ]
