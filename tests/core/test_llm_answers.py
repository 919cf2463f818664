"""load_json_answer: the one way runs and the gateway read a model's JSON answer."""

from __future__ import annotations

import json

import pytest

from apps.core.llm import JSONTooDeep, load_json_answer
from apps.core.llm.answers import PREAMBLE_MAX

SAMPLES = {"samples": [{"text": "Paris is big.", "label": "geo"}]}
BODY = json.dumps(SAMPLES, indent=2)


@pytest.mark.parametrize(
    "answer",
    [
        BODY,
        f"\n\n  {BODY}  \n",
        f"```json\n{BODY}\n```",
        f"```JSON\n{BODY}\n```\n",
        f"```\n{BODY}\n```",
        f"Here are the samples you asked for:\n\n```json\n{BODY}\n```",
        f"Sure! ```json\n{BODY}\n```\nLet me know if you need more.",
        f"```json\n{BODY}",  # cut off by max_tokens before the closing fence
    ],
    ids=[
        "plain",
        "whitespace",
        "fenced",
        "fenced-JSON",
        "bare-fence",
        "prose-then-fence",
        "prose-around",
        "unclosed",
    ],
)
def test_json_is_read_plain_or_fenced(answer: str) -> None:
    assert load_json_answer(answer) == SAMPLES


def test_a_fence_inside_a_json_string_does_not_end_the_block() -> None:
    value = {"text": "Install it with ```pip install seedbed``` and go."}
    answer = f"Here:\n```json\n{json.dumps(value)}\n```\nDone."
    assert load_json_answer(answer) == value


@pytest.mark.parametrize(
    "answer",
    ["I cannot help with that.", "", "{'single': 'quotes'}", '{"a": 1} and {"b": 2}'],
)
def test_garbage_raises_what_json_loads_raises(answer: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        load_json_answer(answer)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(answer)
    assert (caught.value.msg, caught.value.pos) == (expected.value.msg, expected.value.pos)


def test_a_long_preamble_is_not_prose_before_a_fence() -> None:
    answer = "x" * (PREAMBLE_MAX + 1) + f"\n```json\n{BODY}\n```"
    with pytest.raises(json.JSONDecodeError):
        load_json_answer(answer)


def test_broken_json_in_a_fence_is_located_in_the_whole_answer() -> None:
    answer = 'Here it is:\n```json\n{"samples": [\n  {"text": "a",}\n]}\n```'
    with pytest.raises(json.JSONDecodeError) as caught:
        load_json_answer(answer)
    assert (caught.value.lineno, caught.value.colno) == (4, 16)  # right after the stray comma
    assert caught.value.doc == answer


@pytest.mark.parametrize("wrap", [False, True], ids=["plain", "fenced"])
def test_json_nested_too_deep_is_a_decode_error_not_a_crash(wrap: bool) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    answer = f"Here:\n```json\n{deep}\n```" if wrap else deep
    with pytest.raises(JSONTooDeep) as caught:
        load_json_answer(answer)
    assert isinstance(caught.value, json.JSONDecodeError)
    assert caught.value.msg == "JSON nested too deep to read"
