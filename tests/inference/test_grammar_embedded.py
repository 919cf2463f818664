"""Schemas that used to crash the real embedded model (llama.cpp segfaulted on a `"` in an
enum) now reach it re-encoded, or are refused with a 400 naming the field; the server
stays up, and labels with quotes and backslashes come back exactly."""

from __future__ import annotations

import json

import httpx
import pytest

from apps.core.llm import LLMClient, run_sync
from apps.core.services import provider_config, provider_ensure_embedded
from apps.specs.task_types import SpecContent, batch_schema, check_sample

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIELD = "response_format.json_schema.schema"


def alive(url: str) -> bool:
    return httpx.get(f"{url}/models", timeout=5).status_code == 200


def chat_body(model: str, schema: dict, max_tokens: int = 8) -> dict:
    return {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }


def test_the_reported_request_is_answered_and_the_model_survives(gw, embedded_llm):
    provider = provider_ensure_embedded(project=gw.project)
    model = f"embedded/{provider.default_model}"
    url = f"{gw.url}/v1/chat/completions"
    quoted = {"type": "object", "properties": {"a": {"enum": ['x"y']}}, "required": ["a"]}
    # The request, as sent (8 tokens may cut the answer short).
    reported = chat_body(model, {"type": "object", "properties": {"a": {"enum": ['x"y']}}})
    response = httpx.post(url, json=reported, headers=gw.headers(), timeout=120)
    assert response.status_code == 200, response.text
    assert alive(embedded_llm)
    # With room to finish, the model writes the value exactly.
    response = httpx.post(url, json=chat_body(model, quoted, 24), headers=gw.headers(), timeout=120)
    assert response.status_code == 200, response.text
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == {"a": 'x"y'}
    assert alive(embedded_llm)


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        (
            {"type": "object", "properties": {'a"b': {"type": "string"}}},
            f'{FIELD}.properties["a\\"b"]',
        ),
        ({"type": "object", "properties": {"a": {"enum": []}}}, f"{FIELD}.properties.a.enum"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "^\\d+\\1$"}}},
            f"{FIELD}.properties.a.pattern",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "maxLength": 100000}}},
            f"{FIELD}.properties.a.maxLength",
        ),
    ],
)
def test_what_would_crash_it_is_a_400_naming_the_field(gw, embedded_llm, schema, param):
    provider = provider_ensure_embedded(project=gw.project)
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json=chat_body(f"embedded/{provider.default_model}", schema),
        headers=gw.headers(),
        timeout=60,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"].startswith(param + ": ")
    assert error["type"] == "invalid_request_error" and error["code"] == "unsupported_schema"
    assert alive(embedded_llm)


def test_extraction_labels_with_quotes_work_and_bad_names_are_refused(gw, embedded_llm):
    provider = provider_ensure_embedded(project=gw.project)
    body = {
        "model_id": f"embedded/{provider.default_model}",
        "text": 'The 5" screen arrived broken.',
        "schema": {"classifications": [{"task": "kind", "labels": ['5" screen', "C:\\path"]}]},
        "threshold": 0,
    }
    response = httpx.post(f"{gw.url}/inference", json=body, headers=gw.headers(), timeout=120)
    assert response.status_code == 200, response.text
    [kind] = response.json()["classifications"]
    assert kind["task"] == "kind" and kind["label"] in ('5" screen', "C:\\path")
    body["schema"] = {"classifications": [{"task": 'a"b', "labels": ["x", "y"]}]}
    response = httpx.post(f"{gw.url}/inference", json=body, headers=gw.headers(), timeout=60)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "schema" and 'a\\"b' in response.json()["detail"]
    assert alive(embedded_llm)


@pytest.mark.parametrize("label", ['5" screen', "C:\\temp\\", "tab\tand\nline"])
def test_a_spec_label_with_quotes_survives_a_run_call(gw, embedded_llm, label):
    """What a run's call does: the batch schema of a single-label classification spec,
    narrowed to the label the run needs, through the same client, then the sample check."""
    provider = provider_ensure_embedded(project=gw.project)
    content = SpecContent(task_type="classification", labels=(label, "other"), multi_label=False)
    schema = batch_schema(content, 1, only_labels=[label])

    async def ask():
        return await LLMClient(provider_config(provider=provider)).chat(
            [{"role": "user", "content": "Write one support ticket as JSON."}],
            json_schema=schema,
            schema_name="samples",
            max_tokens=120,
            temperature=0.2,
        )

    result = run_sync(ask)
    assert alive(embedded_llm)
    # The label comes first in the schema; the text after it may be cut by max_tokens.
    after = result.content[result.content.index('"label"') + len('"label"') :]
    written, _ = json.JSONDecoder().raw_decode(after.lstrip(" :"))
    assert written == label
    if result.finish_reason != "length":
        [sample] = json.loads(result.content)["samples"]
        checked = check_sample(sample, content)
        assert checked.ok and checked.labels == [label]
