import json

import pytest
from django.core.exceptions import ValidationError

from apps.specs.seeds import (
    MAX_SEEDS,
    MAX_UPLOAD_BYTES,
    check_seeds,
    parse_csv,
    parse_jsonl,
    seeds_from_text,
    seeds_from_upload,
)
from apps.specs.task_types import SpecContent

# --- JSONL ------------------------------------------------------------------------------


def test_jsonl_rows_and_line_numbers_skip_blank_lines():
    text = '{"text": "a", "label": "x"}\n\n{"text": "b", "label": "y"}\r\n'
    parsed = parse_jsonl(text)
    assert parsed.problems == []
    assert parsed.rows == [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    assert parsed.lines == [1, 3]


def test_jsonl_bad_line_3_is_named():
    text = '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", label: z}\n'
    parsed = parse_jsonl(text)
    assert [p["line"] for p in parsed.problems] == [3]
    assert "not valid JSON" in parsed.problems[0]["message"]
    with pytest.raises(ValidationError) as exc:
        seeds_from_text(text, fmt="jsonl", task_type="classification")
    (message,) = exc.value.message_dict["seeds"]
    assert message.startswith("Line 3: not valid JSON")


def test_jsonl_line_that_is_not_an_object():
    parsed = parse_jsonl('{"a": 1}\n[{"a": 1}]\n"text"\n')
    assert [(p["line"], p["message"][:28]) for p in parsed.problems] == [
        (2, "expected a JSON object {…}, "),
        (3, "expected a JSON object {…}, "),
    ]
    assert "own line" in parsed.problems[0]["message"]


def test_jsonl_too_many_seeds():
    text = "\n".join(json.dumps({"text": f"t{i}", "label": "x"}) for i in range(MAX_SEEDS + 5))
    parsed = parse_jsonl(text)
    assert len(parsed.rows) == MAX_SEEDS
    assert parsed.problems[0]["line"] == MAX_SEEDS + 1
    assert "at most 1,000" in parsed.problems[0]["message"]


def test_many_problems_are_capped_with_a_count():
    with pytest.raises(ValidationError) as exc:
        seeds_from_text("nope\n" * 30, fmt="jsonl", task_type="decoder")
    messages = exc.value.message_dict["seeds"]
    assert len(messages) == 21
    assert messages[0].startswith("Line 1:")
    assert messages[-1] == "…and 10 more problems."


# --- CSV --------------------------------------------------------------------------------


def test_csv_classification_counts_header_as_line_1():
    text = 'text,label\n"I was charged twice",billing\n\n"Crash, again",bug\n'
    parsed = parse_csv(text, task_type="classification")
    assert parsed.problems == []
    assert parsed.rows == [
        {"text": "I was charged twice", "label": "billing"},
        {"text": "Crash, again", "label": "bug"},
    ]
    assert parsed.lines == [2, 4]


def test_csv_bad_line_3_is_named():
    text = "text,label\nfine,billing\ntoo,many,values\nfine again,bug\n"
    parsed = parse_csv(text, task_type="classification")
    assert [p["line"] for p in parsed.problems] == [3]
    assert "3 values, but the header has 2 columns" in parsed.problems[0]["message"]
    assert len(parsed.rows) == 2
    short = parse_csv("text,label\nonly one cell\n", task_type="classification")
    assert short.problems[0]["message"] == "1 value, but the header has 2 columns."


def test_csv_quoted_newline_reports_the_starting_line():
    text = 'text,label\n"two\nlines",billing\n"x",bug,extra\n'
    parsed = parse_csv(text, task_type="classification")
    assert parsed.lines == [2]
    assert parsed.problems[0]["line"] == 4


def test_csv_multi_label_splits_on_pipe():
    text = "text,labels\nrefund and crash,billing| bug\n"
    parsed = parse_csv(text, task_type="classification", multi_label=True)
    assert parsed.rows == [{"text": "refund and crash", "labels": ["billing", "bug"]}]


def test_csv_ner_entities_column_is_json():
    text = (
        "text,entities\n"
        '"Ada met Bob","[{""text"": ""Ada"", ""label"": ""person""}]"\n'
        '"Bad",not json\n'
    )
    parsed = parse_csv(text, task_type="ner")
    assert parsed.rows[0]["entities"] == [{"text": "Ada", "label": "person"}]
    assert parsed.problems[0]["line"] == 3
    assert "column 'entities' must hold JSON" in parsed.problems[0]["message"]


def test_csv_conversation_and_decoder_columns():
    conv = (
        "conv_prefix,response\n"
        '"[{""role"": ""user"", ""content"": ""Hi""}]",'
        '"{""role"": ""assistant"", ""content"": ""Hello""}"\n'
    )
    parsed = parse_csv(conv, task_type="conversation")
    assert parsed.rows == [
        {
            "conv_prefix": [{"role": "user", "content": "Hi"}],
            "response": {"role": "assistant", "content": "Hello"},
        }
    ]
    decoder = parse_csv("instruction,input,response\nSum up,long text,short\n", task_type="decoder")
    assert decoder.rows == [{"instruction": "Sum up", "input": "long text", "response": "short"}]


def test_csv_header_problems_are_line_1():
    parsed = parse_csv("text,category\nx,y\n", task_type="classification")
    messages = [p["message"] for p in parsed.problems]
    assert all(p["line"] == 1 for p in parsed.problems)
    assert any("needs the column(s) label" in m for m in messages)
    assert any("unexpected column(s) 'category'" in m for m in messages)


def test_csv_custom_columns_are_string_fields():
    parsed = parse_csv("question,answer,score\nWhy?,Because.,3\n", task_type="custom")
    assert parsed.rows == [{"question": "Why?", "answer": "Because.", "score": "3"}]
    dup = parse_csv("a,a\n1,2\n", task_type="custom")
    assert dup.problems[0] == {"line": 1, "message": "column 'a' appears twice."}


def test_empty_csv_says_so():
    assert "empty" in parse_csv("", task_type="decoder").problems[0]["message"]


# --- uploads ----------------------------------------------------------------------------


def test_upload_format_from_extension_and_bom():
    data = "\ufefftext,label\nhello,billing\n".encode()
    rows = seeds_from_upload(data, filename="seeds.csv", task_type="classification")
    assert rows == [{"text": "hello", "label": "billing"}]
    rows = seeds_from_upload(b'{"text": "hi", "label": "x"}\n', filename="s.jsonl", task_type="ner")
    assert rows == [{"text": "hi", "label": "x"}]


def test_upload_over_5_mb_is_refused():
    with pytest.raises(ValidationError) as exc:
        seeds_from_upload(b"x" * (MAX_UPLOAD_BYTES + 1), filename="s.csv", task_type="decoder")
    assert "at most 5 MB" in exc.value.message_dict["seeds"][0]


def test_upload_that_is_not_utf8_names_the_line():
    data = b"text,label\nok,billing\n\xff\xfe,bad\n"
    with pytest.raises(ValidationError) as exc:
        seeds_from_upload(data, filename="s.csv", task_type="classification", field="seeds_file")
    assert exc.value.message_dict["seeds_file"] == ["Line 3: the file is not UTF-8 text."]


# --- checking each task type's seeds ----------------------------------------------------


def _problems(task_type: str, rows: list, **content) -> list[str]:
    spec = SpecContent(task_type=task_type, **content)
    return [p["message"] for p in check_seeds(rows, spec, lines=list(range(2, len(rows) + 2)))]


def test_ner_seeds():
    labels = ("person", "place")
    good = {"text": "Ada went to London.", "entities": [{"text": "London", "label": "place"}]}
    missing = {"text": "Ada went home.", "entities": [{"text": "Paris", "label": "place"}]}
    unknown = {"text": "Ada went home.", "entities": [{"text": "Ada", "label": "org"}]}
    shape = {"text": "Ada", "entities": "Ada"}
    problems = _problems("ner", [good, missing, unknown, shape], labels=labels)
    assert len(problems) == 3
    assert "'Paris' is not in the text" in problems[0]
    assert "label 'org'" in problems[1] and "person, place" in problems[1]
    assert "Does not follow the schema" in problems[2]


def test_ner_labels_must_be_in_the_spec_even_without_labels():
    seed = {"text": "Ada", "entities": [{"text": "Ada", "label": "person"}]}
    (problem,) = _problems("ner", [seed], labels=())
    assert "label 'person'" in problem and "none yet" in problem


def test_classification_seeds_single_and_multi():
    labels = ("billing", "bug")
    single = [{"text": "refund", "label": "billing"}, {"text": "x", "label": "spam"}, {"text": "y"}]
    problems = _problems("classification", single, labels=labels)
    assert len(problems) == 2
    assert "label 'spam'" in problems[0]
    assert "'label' is a required property" in problems[1]
    multi = [{"text": "both", "labels": ["billing", "bug"]}, {"text": "none", "labels": []}]
    problems = _problems("classification", multi, labels=labels, multi_label=True)
    assert len(problems) == 1 and "Does not follow the schema" in problems[0]


def test_decoder_seeds():
    rows = [
        {"instruction": "Sum up", "input": "text", "response": "short"},
        {"instruction": "Sum up", "response": "   "},
        {"instruction": "Sum up"},
    ]
    problems = _problems("decoder", rows)
    assert len(problems) == 2
    assert "Empty text" in problems[0]
    assert "'response' is a required property" in problems[1]


def test_conversation_seeds():
    good = {
        "conv_prefix": [{"role": "user", "content": "Hi"}],
        "response": {"role": "assistant", "content": "Hello"},
    }
    bad_role = {
        "conv_prefix": [{"role": "robot", "content": "Hi"}],
        "response": {"role": "assistant", "content": "Hello"},
    }
    problems = _problems("conversation", [good, bad_role, {"conv_prefix": []}])
    assert len(problems) == 2
    assert "robot" in problems[0]


def test_custom_seeds_against_given_and_inferred_schema():
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["q", "n"],
    }
    problems = _problems("custom", [{"q": "a", "n": 1}, {"q": "b", "n": "x"}], custom_schema=schema)
    assert len(problems) == 1 and "n: 'x' is not of type 'integer'" in problems[0]
    rows = [{"q": "a", "n": 1}, {"q": "b", "n": "two"}]
    problems = _problems("custom", rows, seeds=tuple(rows))
    assert len(problems) == 1 and "'two' is not of type 'integer'" in problems[0]


def test_every_schema_problem_of_a_seed_is_named_at_once():
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string"}, "n": {"type": "integer"}, "a": {"type": "string"}},
        "required": ["q", "n", "a"],
    }
    (problem,) = _problems("custom", [{"q": 5, "n": "x"}], custom_schema=schema)
    assert "sample: 'a' is a required property" in problem
    assert "n: 'x' is not of type 'integer'" in problem
    assert "q: 5 is not of type 'string'" in problem
    many = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(8)}}
    (problem,) = _problems("custom", [{f"f{i}": i for i in range(8)}], custom_schema=many)
    assert problem.count("is not of type 'string'") == 5 and "(and 3 more)" in problem


def test_check_problems_carry_line_and_seed_number():
    spec = SpecContent(task_type="classification", labels=("a",))
    rows = [{"text": "x", "label": "a"}, {"text": "y", "label": "b"}]
    (problem,) = check_seeds(rows, spec, lines=[2, 5])
    assert problem["line"] == 5 and problem["seed"] == 2
    (problem,) = check_seeds(rows, spec)
    assert problem["line"] is None and problem["seed"] == 2
