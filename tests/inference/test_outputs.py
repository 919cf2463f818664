"""`output_validate`: the shapes a correction may take, normalised or refused by name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.inference.outputs import asked_spec, output_validate

TEXT = "Ada met Grace in Paris."


def test_extraction_output_is_normalised():
    clean = output_validate(
        "extract",
        {
            "entities": [
                {"text": "Paris", "label": "city", "start": 17, "end": 22, "confidence": 1},
                {"text": "Ada", "label": "person", "start": 0, "end": 3},
            ],
            "classifications": [{"task": "t", "label": "a"}, {"task": "m", "labels": ["x"]}],
            "structures": {"meeting": [{"who": ["Ada", "Grace"], "where": "Paris"}]},
            "relations": [
                {"head": "Ada", "tail": {"text": "Grace", "start": 8, "end": 13}, "type": "met"}
            ],
        },
        text=TEXT,
    )
    assert [e["text"] for e in clean["entities"]] == ["Ada", "Paris"]  # sorted by offset
    assert clean["entities"][1]["confidence"] == 1.0
    assert clean["relations"][0]["tail"] == {"text": "Grace", "start": 8, "end": 13}


def test_label_existing_outputs():
    assert output_validate("label_classification", {"text": TEXT, "label": "bio"}, text=TEXT) == {
        "text": TEXT,
        "label": "bio",
    }
    assert output_validate("label_classification", {"labels": ["a", "b"]}, text=TEXT) == {
        "labels": ["a", "b"]
    }
    with pytest.raises(ValidationError) as caught:
        output_validate("label_ner", {"text": "another text", "entities": []}, text=TEXT)
    assert "corrected_output.text" in caught.value.message_dict


@pytest.mark.parametrize(
    ("output", "where"),
    [
        ({"entities": "Ada"}, "corrected_output.entities"),
        ({"entities": [{"text": "Ada", "label": "p", "start": 1, "end": 4}]},
         "corrected_output.entities[0]"),
        ({"entities": [{"text": "Ada", "label": "p", "start": "0", "end": 3}]},
         "corrected_output.entities[0].start"),
        ({"entities": [{"text": "Ada", "label": "p", "start": 0, "end": 3, "confidence": 2}]},
         "corrected_output.entities[0].confidence"),
        ({"classifications": [{"task": "t"}]}, "corrected_output.classifications[0]"),
        ({"structures": {"s": [{"f": {"nested": 1}}]}}, "corrected_output.structures.s[0].f"),
        ({"relations": [{"head": "Bob", "tail": "Ada", "type": "met"}]},
         "corrected_output.relations[0].head"),
        ({"text": TEXT}, "corrected_output"),
        (["Ada"], "corrected_output"),
    ],
)  # fmt: skip
def test_bad_extraction_outputs_name_the_place(output, where):
    with pytest.raises(ValidationError) as caught:
        output_validate("extract", output, text=TEXT)
    assert where in caught.value.message_dict, caught.value.message_dict


@pytest.mark.parametrize("task", ["generate", "chat", "completion", "responses", "messages"])
def test_text_outputs(task):
    assert output_validate(task, "Hello", text="") == {"output": "Hello"}
    assert output_validate(task, {"output": "Hello"}, text="") == {"output": "Hello"}
    assert output_validate(task, {"text": "Hello"}, text="") == {"output": "Hello"}
    for bad in ("", {"output": 3}, {"output": "a", "extra": 1}, ["Hello"], None):
        with pytest.raises(ValidationError):
            output_validate(task, bad, text="")


ASKED = {
    "entities": {"person": "a human"},
    "classifications": [
        {"task": "topic", "labels": ["news", "sport"]},
        {"task": "tags", "labels": ["a", "b"], "multi_label": True},
    ],
    "relations": ["met"],
}


@pytest.mark.parametrize(
    ("output", "where", "message"),
    [
        ({"entities": [{"text": "Paris", "label": "city"}]}, "corrected_output.entities[0].label",
         "'city' is not one of the call's labels: person."),
        ({"classifications": [{"task": "tags", "labels": ["a", "c"]}]},
         "corrected_output.classifications[0].labels[1]",
         "'c' is not one of the call's labels: a, b."),
        ({"classifications": [{"label": "news"}]}, "corrected_output.classifications[0].task",
         "'label' is not one of the call's tasks: topic, tags."),
        ({"relations": [{"head": "Ada", "tail": "Grace", "type": "knows"}]},
         "corrected_output.relations[0].type",
         "'knows' is not one of the call's relation types: met."),
        ({"label": "news"}, "corrected_output.task",
         "'label' is not one of the call's tasks: topic, tags."),
    ],
)  # fmt: skip
def test_labels_must_be_ones_the_call_asked_for(output, where, message):
    with pytest.raises(ValidationError) as caught:
        output_validate("extract", output, text=TEXT, spec=asked_spec({"schema": ASKED}))
    assert caught.value.message_dict == {where: [message]}


def test_labels_of_the_call_pass_and_calls_without_a_schema_are_not_checked():
    output = {
        "entities": [{"text": "Ada", "label": "person"}],
        "classifications": [{"task": "topic", "label": "news"}],
        "relations": [{"head": "Ada", "tail": "Grace", "type": "met"}],
    }
    clean = output_validate("extract", output, text=TEXT, spec=asked_spec({"schema": ASKED}))
    assert clean["entities"] == [{"text": "Ada", "label": "person", "start": 0, "end": 3}]
    assert asked_spec({"text": TEXT}) is None
    assert asked_spec({"schema": {"bogus": 1}}) is None
    assert output_validate("label_ner", {"entities": [{"text": "Ada", "label": "x"}]}, text=TEXT)
