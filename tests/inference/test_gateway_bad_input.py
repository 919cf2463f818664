"""What PostgreSQL cannot store never reaches the history: input holding it is a 400
naming the field before any upstream call; model output holding it is stored with U+FFFD
in its place (apps/core/inputs.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.base import Behaviour

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(
    "path", ["/inference", "/v1/chat/completions", "/v1/completions", "/v1/messages"]
)
def test_json_nested_10000_deep_is_a_400(gw, fake_openai, path):
    before = len(fake_openai.requests)
    response = httpx.post(
        f"{gw.url}{path}",
        content=DEEP,
        headers={**gw.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "nested more than 64 levels" in response.text
    assert len(fake_openai.requests) == before


@pytest.mark.parametrize(
    ("content", "why"),
    [("a\x00b", "NUL"), ("a\ud800b", "surrogate")],
)
def test_unstorable_prompt_is_a_400_naming_the_field_before_any_upstream_call(
    gw, fake_openai, content, why
):
    before = len(fake_openai.requests)
    # Escaped as a JSON client would send it (json.dumps, ensure_ascii).
    message = json.dumps({"role": "user", "content": content})
    body = f'{{"model": "fake/fake-gpt", "messages": [{message}]}}'
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        content=body,
        headers={**gw.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "messages[0].content" and why in error["message"]
    assert len(fake_openai.requests) == before
    (row,) = gw.rows(1)  # the refusal is in the history, storable
    assert row.http_status == 400


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_400(gw, constant):
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        content=f'{{"model": "fake/fake-gpt", "temperature": {constant}, "messages": []}}',
        headers={**gw.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "finite" in response.json()["error"]["message"]


def test_model_output_with_nul_and_lone_surrogate_is_stored_with_replacement_chars(gw, fake_openai):
    fake_openai.enqueue(Behaviour(content="a\x00b\ud800c"))
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": "fake/fake-gpt", "messages": [{"role": "user", "content": "hi"}]},
        headers=gw.headers(),
    )
    assert response.status_code == 200, response.text
    # The caller gets valid UTF-8 JSON too (a lone surrogate cannot be encoded).
    assert response.json()["choices"][0]["message"]["content"].endswith("b\ufffdc")
    (row,) = gw.rows(1)
    assert row.status == "ok"
    assert row.output_text == "a\ufffdb\ufffdc"


def test_a_role_that_is_not_a_string_is_a_400(gw):
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": "fake/fake-gpt", "messages": [{"role": {}, "content": ""}]},
        headers=gw.headers(),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].role"
