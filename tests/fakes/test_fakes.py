"""The fakes themselves: wire formats, scripting, the schema generator, standalone mode."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from .anthropic_server import FakeAnthropic
from .base import Behaviour, Reply
from .openai_server import FakeOpenAI
from .schema_gen import generate

ROOT = Path(__file__).resolve().parents[2]

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string", "minLength": 5, "maxLength": 8},
    {"type": "integer", "exclusiveMinimum": 3, "maximum": 4},
    {"type": "integer", "minimum": 10, "maximum": 100, "multipleOf": 7},
    {"type": "number", "minimum": -1.5, "maximum": 1.5},
    {"type": ["null", "boolean"]},
    {"enum": ["a", "b", 3]},
    {"const": {"x": 1}},
    {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3},
     "minItems": 3, "maxItems": 4, "uniqueItems": True},
    {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "minItems": 2},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "email"},
    {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 2}]},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]},
               {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}]},
    {
        "$defs": {"entity": {"type": "object", "properties": {
            "text": {"type": "string"}, "label": {"enum": ["PER", "ORG", "LOC"]},
            "start": {"type": "integer", "minimum": 0}}, "required": ["text", "label", "start"],
            "additionalProperties": False}},
        "type": "object",
        "properties": {"entities": {"type": "array", "items": {"$ref": "#/$defs/entity"},
                                    "maxItems": 5}},
        "required": ["entities", "extra"],
    },
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:40])
def test_generated_values_validate(schema: dict[str, Any]) -> None:
    for seed in range(25):
        jsonschema.validate(generate(schema, random.Random(seed)), schema)


def test_generation_is_deterministic_per_seed() -> None:
    schema = SCHEMAS[-1]
    assert generate(schema, random.Random(7)) == generate(schema, random.Random(7))
    values = {json.dumps(generate(schema, random.Random(seed))) for seed in range(10)}
    assert len(values) > 1


def test_openai_stream_is_openai_shaped(fake_openai: FakeOpenAI) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream("POST", f"{fake_openai.base_url}/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}


def test_anthropic_stream_event_sequence(fake_anthropic: FakeAnthropic) -> None:
    body = {"model": "c", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "k"}
    with httpx.stream(
        "POST", f"{fake_anthropic.base_url}/v1/messages", json={**body, "stream": True},
        headers=headers,
    ) as response:  # fmt: skip
        events = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    deltas = events.count("content_block_delta")
    assert deltas >= 1
    assert events == [
        "message_start", "content_block_start", "ping",
        *["content_block_delta"] * deltas,
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip


def test_anthropic_fake_rejects_what_the_real_api_rejects(fake_anthropic: FakeAnthropic) -> None:
    url = f"{fake_anthropic.base_url}/v1/messages"
    ok_headers = {"anthropic-version": "2023-06-01"}
    no_max = {"model": "c", "messages": [{"role": "user", "content": "hi"}]}
    system_role = {"model": "c", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}
    assert httpx.post(url, json={**no_max, "max_tokens": 5}).status_code == 400  # no version
    assert httpx.post(url, json=no_max, headers=ok_headers).status_code == 400
    assert httpx.post(url, json=system_role, headers=ok_headers).status_code == 400


def test_anthropic_stream_of_thinking_and_tool_use(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.enqueue(
        Behaviour(
            content="", thinking="Look it up.", tool_calls=[{"name": "f", "arguments": {"q": 1}}]
        )
    )
    body = {
        "model": "c", "max_tokens": 2048, "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "hi"}],
    }  # fmt: skip
    headers = {"anthropic-version": "2023-06-01"}
    url = f"{fake_anthropic.base_url}/v1/messages"
    with httpx.stream("POST", url, json=body, headers=headers) as response:
        data = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    starts = [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"]
    deltas = [d["delta"] for d in data if d["type"] == "content_block_delta"]
    assert starts == ["thinking", "tool_use"]
    assert "".join(d.get("thinking", "") for d in deltas) == "Look it up."
    assert any(d["type"] == "signature_delta" for d in deltas)
    assert json.loads(deltas[-1]["partial_json"]) == {"q": 1}
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


def test_openai_fake_answers_tool_calls_and_reasoning(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = lambda data: Reply(
        "", thinking="Hmm.", tool_calls=[{"name": "f", "arguments": '{"q": 1}', "id": "c1"}]
    )
    url = f"{fake_openai.base_url}/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    choice = httpx.post(url, json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "Hmm."
    assert choice["message"]["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"q": 1}'}}
    ]
    # A tool result that answers no tool call is refused, as OpenAI does.
    stray = {"role": "tool", "tool_call_id": "c9", "content": "1"}
    refused = httpx.post(url, json={**body, "messages": [*body["messages"], stray]})
    assert refused.status_code == 400


def test_anthropic_fake_refuses_a_bad_thinking_budget(fake_anthropic: FakeAnthropic) -> None:
    url = f"{fake_anthropic.base_url}/v1/messages"
    headers = {"anthropic-version": "2023-06-01"}
    base = {"model": "c", "messages": [{"role": "user", "content": "hi"}]}
    for max_tokens, budget, extra in [
        (2048, 512, {}),
        (1024, 1024, {}),
        (4096, 1024, {"temperature": 0.5}),
    ]:
        thinking = {"type": "enabled", "budget_tokens": budget}
        body = {**base, "max_tokens": max_tokens, "thinking": thinking, **extra}
        assert httpx.post(url, json=body, headers=headers).status_code == 400, body
    ok = {**base, "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert httpx.post(url, json=ok, headers=headers).json()["content"][0]["type"] == "thinking"


def test_script_queue_and_in_flight_counting(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Behaviour(status=418), {"status": 429, "retry_after": 2})
    url = f"{fake_openai.base_url}/chat/completions"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    first, second, third = (httpx.post(url, json=body) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (418, 429, 200)
    assert second.headers["retry-after"] == "2"
    assert [entry["status"] for entry in fake_openai.requests] == [418, 429, 200]
    assert fake_openai.max_in_flight == 1


def test_standalone_process_with_http_controls() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--latency-ms", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}"
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{base}/_fake/script", json={"fail_times": 1}).status_code == 200
        assert httpx.post(f"{base}/v1/chat/completions", json=body).status_code == 500
        answer = httpx.post(f"{base}/v1/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["content"]
        assert httpx.get(f"{base}/_fake/stats").json()["served"] == 2
        assert len(httpx.get(f"{base}/_fake/requests").json()) == 2
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
