"""Seedbed's own `POST /inference` over HTTP: extraction, generation, input limits."""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Grace Hopper joined Remington Rand in Philadelphia. Grace loved COBOL."


def post(gw, body):
    return httpx.post(f"{gw.url}/inference", json=body, headers=gw.headers(), timeout=30)


def test_extraction_of_every_part(gw, fake_openai):
    fake_openai.responder = lambda data: json.dumps(
        {
            "entities": [
                {"text": "Grace Hopper", "label": "person", "confidence": 0.9},
                {"text": "Grace", "label": "person", "confidence": 0.8},
                {"text": "Philadelphia", "label": "city", "confidence": 0.3},
                {"text": "Remington  rand", "label": "org", "confidence": 0.7},
            ],
            "classifications": {
                "topic": {"label": "history", "confidence": 0.8},
                "tags": {
                    "labels": [
                        {"label": "computing", "confidence": 0.9},
                        {"label": "cooking", "confidence": 0.1},
                    ]
                },
            },
            "structures": {
                "employment": [
                    {"fields": {"person": "Grace Hopper", "employer": "Remington Rand"},
                     "confidence": 0.9},
                    {"fields": {"person": "nobody", "employer": ""}, "confidence": 0.1},
                ]
            },
            "relations": [
                {"head": "Grace Hopper", "type": "works_for", "tail": "Remington Rand",
                 "confidence": 0.85},
                {"head": "Alan Turing", "type": "works_for", "tail": "Remington Rand",
                 "confidence": 0.9},
            ],
        }
    )  # fmt: skip
    response = post(
        gw,
        {
            "model_id": "fake/fake-gpt",
            "text": TEXT,
            "threshold": 0.5,
            "schema": {
                "entities": {"person": "a human", "city": "a city", "org": "a company"},
                "classifications": [
                    {"task": "topic", "labels": ["history", "sport"]},
                    {"task": "tags", "labels": ["computing", "cooking"], "multi_label": True},
                ],
                "structures": {"employment": ["person", "employer"]},
                "relations": [{"name": "works_for", "head": "person", "tail": "org"}],
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["x-inference-id"] == str(body["id"])
    assert body["model_id"] == "fake/fake-gpt"
    assert body["entities"] == [
        {"text": "Grace Hopper", "label": "person", "start": 0, "end": 12, "confidence": 0.9},
        {"text": "Remington Rand", "label": "org", "start": 20, "end": 34, "confidence": 0.7},
        {"text": "Grace", "label": "person", "start": 52, "end": 57, "confidence": 0.8},
    ]
    for entity in body["entities"]:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]
    assert body["classifications"] == [
        {"task": "topic", "label": "history", "confidence": 0.8},
        {"task": "tags", "labels": ["computing"], "confidence": 0.9},
    ]
    assert body["structures"] == {
        "employment": [{"person": "Grace Hopper", "employer": "Remington Rand"}]
    }
    assert body["relations"] == [
        {
            "head": {"text": "Grace Hopper", "start": 0, "end": 12},
            "tail": {"text": "Remington Rand", "start": 20, "end": 34},
            "type": "works_for",
            "confidence": 0.85,
        }
    ]
    assert body["usage"]["total_tokens"] > 0
    sent = fake_openai.requests[-1]["json"]
    assert sent["temperature"] == 0.0
    assert "person: a human" in sent["messages"][0]["content"]
    assert sent["messages"][1] == {"role": "user", "content": TEXT}
    [row] = gw.rows(1)
    assert row.pk == body["id"] and (row.protocol, row.task) == ("native", "extract")
    assert row.output == {
        k: body[k] for k in ("entities", "classifications", "structures", "relations")
    }
    assert row.input_text == TEXT


def test_extraction_through_an_anthropic_provider_puts_the_schema_in_the_prompt(gw, fake_anthropic):
    response = post(
        gw,
        {"model_id": "claude", "text": TEXT, "schema": {"entities": ["person"]}, "threshold": 0},
    )
    assert response.status_code == 200, response.text
    sent = fake_anthropic.requests[-1]["json"]
    assert "JSON Schema" in sent["system"]
    # The fake answers random strings for the schema: none of them is in the text.
    assert set(response.json()) == {
        "id", "model_id", "entities", "classifications", "structures", "relations", "usage",
    }  # fmt: skip


def test_generate(gw, fake_openai):
    response = post(
        gw,
        {
            "model_id": "fake/fake-gpt",
            "task": "generate",
            "messages": [{"role": "user", "content": "Write a haiku."}],
            "max_tokens": 40,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "model_id", "output", "usage"}
    assert body["output"].startswith("Fake answer")
    assert fake_openai.requests[-1]["json"]["max_tokens"] == 40
    [row] = gw.rows(1)
    assert (row.task, row.output_text, row.input_text) == (
        "generate",
        body["output"],
        "Write a haiku.",
    )


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"text": "x" * 100_001, "schema": {"entities": ["a"]}}, "text", "100,000"),
        ({"text": "", "schema": {"entities": ["a"]}}, "text", "non-empty"),
        ({"text": "x", "schema": {"entities": [f"l{i}" for i in range(201)]}},
         "schema.entities", "limit is 200"),
        ({"text": "x", "schema": {"entities": ["a"]}, "threshold": 1.5}, "threshold", "0 to 1"),
        ({"text": "x", "schema": {"entities": ["a"]}, "threshold": "high"}, "threshold", "0 to 1"),
        ({"text": "x", "schema": {"labels": ["a"]}}, "schema.labels", "is not one of"),
        ({"text": "x", "schema": {}}, "schema", "at least one"),
        ({"text": "x", "schema": {"classifications": [{"task": "t", "labels": []}]}},
         "schema.classifications[0].labels", "must not be empty"),
        ({"text": "x", "schema": {"structures": {"s": []}}}, "schema.structures.s", "fields"),
        ({"text": "x", "schema": {"entities": ["a"]}, "task": "dance"}, "task", "extract"),
        ({"task": "generate", "messages": []}, "messages", "non-empty"),
    ],
)  # fmt: skip
def test_bad_input_is_400_naming_the_field(gw, body, field, words):
    response = post(gw, {"model_id": "fake/fake-gpt", **body})
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["field"] == field
    assert words in error["detail"]
    [row] = gw.rows(1)
    assert (row.status, row.http_status) == ("error", 400)


def test_model_id_is_required(gw):
    response = post(gw, {"text": "x", "schema": {"entities": ["a"]}})
    assert response.status_code == 400 and response.json()["field"] == "model_id"


def test_an_unreadable_extraction_answer_is_kept_on_the_failed_call(gw, fake_openai):
    said = 'Sure! <script>alert("x")</script> Grace Hopper is a person.'
    fake_openai.responder = lambda data: said
    response = post(
        gw, {"model_id": "fake/fake-gpt", "text": TEXT, "schema": {"entities": ["person"]}}
    )
    assert response.status_code == 502, response.text
    assert response.json() == {
        "detail": "The model's answer was not the JSON object the extraction schema asks for.",
        "code": "upstream_error",
    }
    [row] = gw.rows(1)
    assert (row.status, row.http_status, row.output_text) == ("error", 502, said)
    assert row.input_tokens > 0 and row.output_tokens > 0

    detail = httpx.get(f"{gw.url}/inferences/{row.pk}", headers=gw.headers(), timeout=30)
    assert detail.json()["output_text"] == said
    page_client = Client()
    page_client.force_login(gw.membership.user)
    page = page_client.get(f"/inference/{row.pk}/").content.decode()
    assert "Sure! &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Grace Hopper" in page
    assert '<script>alert("x")' not in page
