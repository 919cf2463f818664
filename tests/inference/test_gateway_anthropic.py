"""The Anthropic-compatible API through the official `anthropic` SDK, against a real
uvicorn, over both kinds of upstream (Anthropic and OpenAI-style)."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_message_to_an_anthropic_upstream(gw, fake_anthropic):
    message = gw.anthropic().messages.create(
        model="claude/claude-fake-1",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Name a river."}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("Fake answer")
    assert message.stop_reason == "end_turn" and message.model == "claude/claude-fake-1"
    sent = fake_anthropic.requests[-1]["json"]
    assert sent["system"] == "Be brief." and sent["max_tokens"] == 100
    assert sent["model"] == "claude-fake-1"
    [row] = gw.rows(1)
    assert message.id == f"msg_{row.pk}"
    assert (row.protocol, row.task, row.provider.name) == ("anthropic", "messages", "claude")
    assert row.output_text == message.content[0].text
    assert (row.input_tokens, row.output_tokens) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )


def test_message_to_an_openai_style_upstream(gw, fake_openai):
    message = gw.anthropic().messages.create(
        model="fake/fake-gpt",
        max_tokens=3,  # the fake stops at 3 tokens: finish "length" -> "max_tokens"
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
    )
    assert message.stop_reason == "max_tokens"
    assert fake_openai.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "Hello there"}
    ]


def test_streamed_message_is_assembled_and_recorded(gw):
    with gw.anthropic().messages.stream(
        model="claude/claude-fake-1",
        max_tokens=200,
        messages=[{"role": "user", "content": "Tell me about the Rhine."}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith("Fake answer") and final.content[0].text == text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    [row] = gw.rows(1)
    assert row.streamed and row.status == "ok"
    assert row.output_text == text
    assert row.output_tokens == final.usage.output_tokens


def test_stream_event_sequence(gw):
    body = {
        "model": "fake/fake-gpt",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    headers = {**gw.headers(), "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gw.url}/v1/messages", json=body, headers=headers) as response:
        events = [line[7:] for line in response.iter_lines() if line.startswith("event: ")]
    deltas = events.count("content_block_delta")
    assert deltas >= 1
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * deltas,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_models_list_in_anthropic_shape(gw):
    ids = [model.id for model in gw.anthropic().models.list()]
    assert "claude/claude-fake-1" in ids and "support" in ids


def test_bad_request_names_the_field(gw):
    response = httpx.post(
        f"{gw.url}/v1/messages",
        json={"model": "claude/claude-fake-1", "messages": [{"role": "user", "content": "x"}]},
        headers={**gw.headers(), "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    [row] = gw.rows(1)
    assert (row.status, row.http_status) == ("error", 400)
    assert json.loads(json.dumps(row.request))["model"] == "claude/claude-fake-1"
