"""`output_validate`: the shapes a correction may take, normalised or refused by name."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.inference.outputs import output_validate

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
