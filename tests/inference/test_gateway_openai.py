"""The OpenAI-compatible API through the official `openai` SDK, against a real uvicorn."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_models_list_has_provider_models_and_aliases(gw):
    ids = {model.id for model in gw.openai().models.list()}
    # The default model, what the fake's /models lists, and the alias.
    assert {"fake/fake-gpt", "fake/fake-gpt-mini", "support", "claude/claude-fake-1"} <= ids
    assert "claude/claude-fake-2" in ids
    model = gw.openai().models.retrieve("fake/fake-gpt")
    assert model.owned_by == "fake"


def test_chat_completion(gw, fake_openai):
    completion = gw.openai().chat.completions.create(
        model="fake/fake-gpt",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a river."},
        ],
        temperature=0.2,
        max_tokens=50,
    )
    content = completion.choices[0].message.content
    assert content.startswith("Fake answer")
    assert completion.model == "fake/fake-gpt"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    sent = fake_openai.requests[-1]["json"]
    assert sent["model"] == "fake-gpt"  # the upstream name, not Seedbed's id
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    [row] = gw.rows(1)
    assert completion.id == f"chatcmpl-{row.pk}"
    assert (row.protocol, row.task, row.status, row.http_status) == ("openai", "chat", "ok", 200)
    assert row.model_id == "fake/fake-gpt" and row.upstream_model == "fake-gpt"
    assert row.provider.name == "fake" and row.api_key is not None
    assert row.input_text == "Name a river." and row.output_text == content
    assert row.input_tokens == completion.usage.prompt_tokens
    assert row.output_tokens == completion.usage.completion_tokens
    assert row.request["messages"][1]["content"] == "Name a river."
    assert row.latency_ms > 0 and not row.streamed


def test_chat_completion_through_an_alias(gw, fake_openai):
    gw.openai().chat.completions.create(
        model="support", messages=[{"role": "user", "content": "x"}]
    )
    assert fake_openai.requests[-1]["json"]["model"] == "fake-gpt-mini"
    [row] = gw.rows(1)
    assert (row.model_id, row.upstream_model) == ("support", "fake-gpt-mini")


def test_chat_completion_stream_with_usage(gw):
    stream = gw.openai().chat.completions.create(
        model="fake/fake-gpt",
        messages=[{"role": "user", "content": "Tell me about the Danube, at length."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Fake answer")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    [row] = gw.rows(1)
    assert chunks[0].id == f"chatcmpl-{row.pk}"
    assert row.streamed and row.status == "ok"
    assert row.output_text == text  # the assembled stream
    assert row.output_tokens == chunks[-1].usage.completion_tokens


def test_stream_wire_format_ends_with_done(gw):
    body = {
        "model": "fake/fake-gpt",
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.stream(
        "POST", f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers()
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    # Without stream_options.include_usage there is no usage chunk.
    assert all(json.loads(line[6:]).get("usage") is None for line in lines[:-1])


def test_completions_plain_and_streamed(gw):
    client = gw.openai()
    completion = client.completions.create(model="fake/fake-gpt", prompt="Once upon a time")
    assert completion.choices[0].text.startswith("Fake answer")
    streamed = "".join(
        chunk.choices[0].text
        for chunk in client.completions.create(
            model="fake/fake-gpt", prompt="Once upon a time", stream=True
        )
    )
    assert streamed == completion.choices[0].text
    rows = gw.rows(2)
    assert {r.task for r in rows} == {"completion"}
    assert rows[0].streamed and rows[0].output_text == streamed


def test_responses_plain_and_streamed(gw, fake_openai):
    client = gw.openai()
    response = client.responses.create(
        model="fake/fake-gpt", input="Name a lake.", instructions="Answer in one word."
    )
    assert response.output_text.startswith("Fake answer")
    assert response.status == "completed" and response.usage.output_tokens > 0
    sent = fake_openai.requests[-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in one word."}
    events = list(
        client.responses.create(
            model="fake/fake-gpt",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "Name a lake."}]}],
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == events[-1].response.output_text
    rows = gw.rows(2)
    assert rows[0].task == "responses" and rows[0].output_text == deltas
    assert response.id == f"resp_{rows[1].pk}"


def test_extraction_through_extra_body(gw, fake_openai):
    text = "Ada Lovelace met Charles Babbage in London. ada wrote notes."
    fake_openai.responder = lambda data: json.dumps(
        {
            "entities": [
                {"text": "Ada Lovelace", "label": "person", "confidence": 0.95},
                {"text": "london", "label": "city", "confidence": 0.9},  # case differs
                {"text": "Paris", "label": "city", "confidence": 0.99},  # not in the text
                {"text": "Charles Babbage", "label": "person", "confidence": 0.2},
            ]
        }
    )
    completion = gw.openai().chat.completions.create(
        model="fake/fake-gpt",
        messages=[{"role": "user", "content": text}],
        extra_body={"schema": {"entities": ["person", "city"]}, "threshold": 0.5},
    )
    result = json.loads(completion.choices[0].message.content)
    assert result["entities"] == [
        {"text": "Ada Lovelace", "label": "person", "start": 0, "end": 12, "confidence": 0.95},
        {"text": "London", "label": "city", "start": 36, "end": 42, "confidence": 0.9},
    ]
    for entity in result["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    sent = fake_openai.requests[-1]["json"]
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["entities"]["items"]["properties"]["label"]["enum"] == [
        "person",
        "city",
    ]
    [row] = gw.rows(1)
    assert (row.task, row.protocol) == ("extract", "openai")
    assert row.output["entities"] == result["entities"] and row.input_text == text


def test_response_format_json_schema_is_passed_on(gw, fake_openai):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    completion = gw.openai().chat.completions.create(
        model="fake/fake-gpt",
        messages=[{"role": "user", "content": "A number"}],
        response_format={"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
    )
    assert isinstance(json.loads(completion.choices[0].message.content)["n"], int)
    assert fake_openai.requests[-1]["json"]["response_format"]["json_schema"]["schema"] == schema


def test_training_job_id_from_body_or_header(gw):
    client = gw.openai()
    message = [{"role": "user", "content": "x"}]
    client.chat.completions.create(
        model="fake/fake-gpt", messages=message, extra_body={"training_job_id": "job-1"}
    )
    client.chat.completions.create(
        model="fake/fake-gpt", messages=message, extra_headers={"X-Training-Job-Id": "job-2"}
    )
    rows = gw.rows(2)
    assert [r.training_job_id for r in rows] == ["job-2", "job-1"]
