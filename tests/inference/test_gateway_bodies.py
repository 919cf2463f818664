"""The gateway checks the key before it reads a byte of the body, and stops reading a body
at the size limit: measured by what the app took from a body produced on demand."""

from __future__ import annotations

import httpx
import pytest

from apps.inference.gateway import auth
from apps.inference.gateway.asgi import GatewayHandler
from tests.asgi import MB, CountingBody, call
from tests.factories import MembershipFactory, api_key_for

HUGE = 400 * MB


@pytest.fixture(autouse=True)
def fresh_verdicts():
    auth.clear_cache()
    yield
    auth.clear_cache()


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
def test_an_anonymous_call_is_401_before_its_body_is_read(declare_length):
    body = CountingBody(HUGE)
    answer = call(GatewayHandler(), "/v1/chat/completions", body, declare_length=declare_length)
    assert answer.status == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"  # OpenAI's shape
    assert body.read == 0 and body.calls == 0


def test_a_wrong_key_is_401_in_the_callers_shape_before_its_body_is_read(transactional_db):
    body = CountingBody(HUGE)
    headers = {"x-api-key": "sb_not-a-key", "anthropic-version": "2023-06-01"}
    answer = call(GatewayHandler(), "/v1/messages", body, headers=headers)
    assert answer.status == 401
    assert answer.json()["error"]["type"] == "authentication_error"  # Anthropic's shape
    native = call(GatewayHandler(), "/inference", CountingBody(HUGE), headers=headers)
    assert native.status == 401 and "API key" in native.json()["detail"]
    assert body.read == 0


def test_a_declared_body_over_the_limit_is_413_at_once(transactional_db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MB
    key = api_key_for(MembershipFactory())
    body = CountingBody(HUGE)
    answer = call(
        GatewayHandler(), "/v1/chat/completions", body,
        headers={"authorization": f"Bearer {key}"}, declare_length=True,
    )  # fmt: skip
    assert answer.status == 413
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in answer.json()["error"]["message"]
    assert body.read == 0


def test_a_chunked_body_is_read_up_to_the_limit_only(transactional_db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = MB
    key = api_key_for(MembershipFactory())
    body = CountingBody(HUGE, chunk=64 * 1024)
    answer = call(GatewayHandler(), "/inference", body, headers={"x-api-key": key})
    assert answer.status == 413
    assert answer.json()["detail"].startswith("The request body is over 1 MB")
    assert body.read <= MB + body.chunk  # not the 400 MB the client had to send


def test_gateway_responses_say_nosniff(gw):
    """Every answer of the gateway, errors and successes (Django's middleware, which would
    add the header, does not run for gateway paths)."""
    refused = httpx.post(f"{gw.url}/v1/chat/completions", json={})
    listed = httpx.get(f"{gw.url}/v1/models", headers=gw.headers())
    assert (refused.status_code, listed.status_code) == (401, 200)
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert listed.headers["x-content-type-options"] == "nosniff"
