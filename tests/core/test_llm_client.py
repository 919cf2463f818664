"""The LLM client against fake providers that speak the real wire protocols."""

from __future__ import annotations

import time
import uuid
from collections.abc import Coroutine
from email.utils import formatdate
from typing import Any, TypeVar

import jsonschema
import pytest

from apps.core.llm import (
    ChatChunk,
    LLMClient,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderConfig,
    ProviderHTTPError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTimeout,
    ProviderUnreachable,
    list_models_sync,
)
from apps.core.llm.retry import RetryPolicy, parse_retry_after
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import Behaviour, FakeServer
from tests.fakes.helpers import in_thread, run_async
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.schemas import REVIEW_SCHEMA as SCHEMA

T = TypeVar("T")

HELLO = [{"role": "user", "content": "Say hello to the river."}]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return run_async(coro)


def config_for(fake: FakeServer, **overrides: Any) -> ProviderConfig:
    values: dict[str, Any] = {
        "key": f"test:{uuid.uuid4().hex[:8]}",
        "kind": "anthropic" if isinstance(fake, FakeAnthropic) else "openai",
        "base_url": fake.base_url,
        "default_model": "fake-model",
        "backoff_base": 0.01,
        "backoff_max": 0.05,
    }
    values.update(overrides)
    return ProviderConfig(**values)


async def chat(config: ProviderConfig, **kwargs: Any) -> Any:
    async with LLMClient(config) as client:
        return await client.chat(kwargs.pop("messages", HELLO), **kwargs)


async def stream(config: ProviderConfig, **kwargs: Any) -> list[ChatChunk]:
    client = LLMClient(config)
    return [chunk async for chunk in client.stream_chat(kwargs.pop("messages", HELLO), **kwargs)]


pytestmark = pytest.mark.usefixtures("allow_loopback")


# ---- plain calls ------------------------------------------------------------------------


def test_chat_returns_content_usage_and_sends_bearer_key(fake_openai: FakeOpenAI) -> None:
    result = run(chat(config_for(fake_openai, api_key="sk-test-123"), temperature=0.2))

    assert result.content.startswith("Fake answer")
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.attempts == 1 and result.finish_reason == "stop"
    [request] = fake_openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-123"
    assert request["json"]["temperature"] == 0.2
    assert request["json"]["model"] == "fake-model"


def test_no_authorization_header_without_a_key(fake_openai: FakeOpenAI) -> None:
    run(chat(config_for(fake_openai)))
    assert "authorization" not in fake_openai.requests[0]["headers"]


def test_cookies_an_upstream_sets_are_not_sent_back(fake_openai: FakeOpenAI) -> None:
    # One HTTP session serves every project of a worker: a provider's cookie must not
    # follow one project's call into another's, on the plain path or the streaming one.
    cookie = {"Set-Cookie": "session=project-a; Path=/"}
    fake_openai.enqueue(Behaviour(headers=cookie), Behaviour(headers=cookie))

    async def calls() -> None:
        client = LLMClient(config_for(fake_openai))
        await client.chat(HELLO)
        [_ async for _ in client.stream_chat(HELLO)]
        await client.chat(HELLO)
        [_ async for _ in client.stream_chat(HELLO)]

    run(calls())

    assert len(fake_openai.requests) == 4
    assert [r["headers"].get("cookie") for r in fake_openai.requests] == [None] * 4


def test_usage_is_zero_when_the_server_omits_it(fake_openai: FakeOpenAI) -> None:
    async def no_usage() -> Any:
        client = LLMClient(config_for(fake_openai))
        original = client._dialect.parse_chat

        def strip(data: dict[str, Any]) -> Any:
            data.pop("usage", None)
            return original(data)

        client._dialect.parse_chat = strip  # type: ignore[method-assign]
        return await client.chat(HELLO)

    result = run(no_usage())
    assert (result.usage.input_tokens, result.usage.output_tokens) == (0, 0)


# ---- retries and errors -------------------------------------------------------------------


def test_429_retry_after_is_honoured(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Behaviour(status=429, retry_after=1))

    result = run(chat(config_for(fake_openai)))

    assert result.attempts == 2
    first, second = fake_openai.requests
    assert second["t"] - first["t"] >= 1.0


def test_retry_after_as_http_date_is_honoured(fake_openai: FakeOpenAI) -> None:
    not_before = int(time.time()) + 3  # HTTP dates have whole-second resolution
    fake_openai.enqueue(Behaviour(status=503, retry_after=formatdate(not_before, usegmt=True)))

    result = run(chat(config_for(fake_openai)))

    first, second = fake_openai.requests
    assert result.attempts == 2
    assert first["wall"] < not_before <= second["wall"]


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = formatdate(1_000_010, usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=1_000_000) == pytest.approx(10)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_full_jitter_within_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_max=4.0)
    delays = [policy.backoff(attempt) for attempt in range(1, 9) for _ in range(50)]
    assert all(0 <= delay <= 4.0 for delay in delays)
    assert max(policy.backoff(1) for _ in range(200)) <= 0.5
    assert len({round(delay, 6) for delay in delays}) > 100  # jittered, not fixed


def test_retry_after_longer_than_the_cap_raises_at_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(fail_times=5, fail_status=429, retry_after=600)

    with pytest.raises(ProviderRateLimited) as caught:
        run(chat(config_for(fake_openai, max_retry_after=30)))

    assert caught.value.retry_after == 600 and caught.value.retryable
    assert len(fake_openai.requests) == 1


def test_gives_up_after_max_attempts(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(fail_times=100, fail_status=500)

    with pytest.raises(ProviderHTTPError) as caught:
        run(chat(config_for(fake_openai, max_attempts=3)))

    error = caught.value
    assert error.attempts == 3 and error.status_code == 500 and error.retryable
    assert "gave up after 3 attempts" in error.user_message
    assert len(fake_openai.requests) == 3


def test_transient_5xx_then_success(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(fail_times=2, fail_status=502)
    result = run(chat(config_for(fake_openai)))
    assert result.attempts == 3 and len(fake_openai.requests) == 3


def test_stalled_upstream_ends_by_read_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(stall=True)
    started = time.monotonic()

    with pytest.raises(ProviderTimeout) as caught:
        run(chat(config_for(fake_openai, timeout_seconds=0.4, max_attempts=2)))

    assert caught.value.attempts == 2
    assert time.monotonic() - started < 3.0
    assert len(fake_openai.requests) == 2


def test_401_is_an_auth_error_without_retry_and_without_the_key(fake_openai: FakeOpenAI) -> None:
    fake_openai.require_key = "sk-right"

    with pytest.raises(ProviderAuthError) as caught:
        run(chat(config_for(fake_openai, api_key="sk-wrong-secret")))

    assert caught.value.status_code == 401 and not caught.value.retryable
    assert caught.value.attempts == 1
    assert "sk-wrong-secret" not in str(caught.value)
    assert len(fake_openai.requests) == 1


def test_key_echoed_by_the_upstream_is_redacted(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Behaviour(status=400, error_message="Bad request for key sk-echo-999"))

    with pytest.raises(ProviderHTTPError) as caught:
        run(chat(config_for(fake_openai, api_key="sk-echo-999")))

    assert "sk-echo-999" not in caught.value.user_message
    assert "[redacted]" in caught.value.user_message
    assert not caught.value.retryable and len(fake_openai.requests) == 1


def test_malformed_json_is_a_bad_response_retried_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(malformed=True)

    with pytest.raises(ProviderBadResponse) as caught:
        run(chat(config_for(fake_openai, max_attempts=4)))

    assert caught.value.attempts == 2
    assert len(fake_openai.requests) == 2


def test_connection_refused_is_unreachable(fake_openai: FakeOpenAI) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = config_for(fake_openai, base_url=f"http://127.0.0.1:{port}/v1", max_attempts=2)

    with pytest.raises(ProviderUnreachable) as caught:
        run(chat(config))

    assert caught.value.attempts == 2 and caught.value.retryable


@pytest.mark.django_db  # a refused private address consults the admin's allow-list
def test_guard_refuses_loopback_that_is_not_allowlisted(
    fake_openai: FakeOpenAI, settings: Any
) -> None:
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8765"]  # the embedded server only
    config = config_for(fake_openai, api_key="sk-must-not-leak")

    with pytest.raises(ProviderRefused) as caught:
        run(chat(config))
    with pytest.raises(ProviderRefused):
        run(stream(config))
    with pytest.raises(ProviderRefused):
        run(LLMClient(config).list_models())

    assert "PROVIDER_HOST_ALLOWLIST" in str(caught.value)
    assert fake_openai.requests == []


# ---- structured output --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected_format"),
    [
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "review", "schema": SCHEMA, "strict": True},
            },
        ),
        ("json_object_schema", {"type": "json_object", "schema": SCHEMA}),
        ("none", None),
    ],
)
def test_structured_output_dialects(
    fake_openai: FakeOpenAI, mode: str, expected_format: dict[str, Any] | None
) -> None:
    config = config_for(fake_openai, structured_output=mode)

    result = run(chat(config, json_schema=SCHEMA, schema_name="review"))

    body = fake_openai.requests[0]["json"]
    assert body.get("response_format") == expected_format
    if mode == "none":
        assert body["messages"][0]["role"] == "system"
        assert "JSON Schema" in body["messages"][0]["content"]
    jsonschema.validate(__import__("json").loads(result.content), SCHEMA)


def test_structured_output_is_deterministic_per_request(fake_openai: FakeOpenAI) -> None:
    config = config_for(fake_openai)
    first = run(chat(config, json_schema=SCHEMA))
    second = run(chat(config, json_schema=SCHEMA))
    other = run(chat(config, json_schema=SCHEMA, messages=[{"role": "user", "content": "Other"}]))
    assert first.content == second.content != other.content


def test_anthropic_wire_format_and_schema_in_system_prompt(fake_anthropic: FakeAnthropic) -> None:
    config = config_for(fake_anthropic, api_key="sk-ant-1")
    messages = [{"role": "system", "content": "You review films."}, *HELLO]

    result = run(chat(config, messages=messages, json_schema=SCHEMA, stop=["END"]))

    [request] = fake_anthropic.requests
    assert request["path"] == "/v1/messages"
    assert request["headers"]["x-api-key"] == "sk-ant-1"
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request["headers"]
    body = request["json"]
    assert body["max_tokens"] == 1024 and body["stop_sequences"] == ["END"]
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["system"].startswith("You review films.") and "JSON Schema" in body["system"]
    assert "response_format" not in body
    jsonschema.validate(__import__("json").loads(result.content), SCHEMA)
    assert result.finish_reason == "end_turn" and result.usage.input_tokens > 0


def test_anthropic_base_url_with_or_without_v1(fake_anthropic: FakeAnthropic) -> None:
    run(chat(config_for(fake_anthropic, base_url=fake_anthropic.base_url + "/v1/")))
    run(chat(config_for(fake_anthropic)))
    assert [r["path"] for r in fake_anthropic.requests] == ["/v1/messages", "/v1/messages"]


# ---- streaming ----------------------------------------------------------------------------


@pytest.mark.parametrize("fake_name", ["fake_openai", "fake_anthropic"])
def test_stream_matches_plain_call(fake_name: str, request: pytest.FixtureRequest) -> None:
    fake: FakeServer = request.getfixturevalue(fake_name)
    config = config_for(fake)

    plain = run(chat(config))
    chunks = run(stream(config))

    assert len(chunks) > 2
    assert "".join(chunk.delta for chunk in chunks) == plain.content
    last = chunks[-1]
    assert last.usage == plain.usage and last.usage is not None and last.usage.output_tokens > 0
    assert last.finish_reason == plain.finish_reason
    assert all(chunk.usage is None for chunk in chunks[:-1])
    body = fake.requests[-1]["json"]
    assert body["stream"] is True
    if fake_name == "fake_openai":
        assert body["stream_options"] == {"include_usage": True}


def test_stream_retries_a_failure_before_the_first_delta(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Behaviour(status=503))
    chunks = run(stream(config_for(fake_openai)))
    assert chunks[-1].finish_reason == "stop" and len(fake_openai.requests) == 2


def test_stream_stall_after_first_delta_times_out_without_retry(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(Behaviour(stall_after_chunks=2))
    received: list[str] = []

    async def consume() -> None:
        client = LLMClient(config_for(fake_openai, timeout_seconds=0.4))
        async for chunk in client.stream_chat(HELLO):
            received.append(chunk.delta)

    with pytest.raises(ProviderTimeout):
        run(consume())
    assert "".join(received)  # text arrived before the stall
    assert len(fake_openai.requests) == 1


def test_stream_malformed_event_is_a_bad_response(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(malformed=True)
    with pytest.raises(ProviderBadResponse):
        run(stream(config_for(fake_anthropic)))


# ---- models -------------------------------------------------------------------------------


def test_list_models(fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic) -> None:
    assert run(LLMClient(config_for(fake_openai)).list_models()) == ["fake-gpt", "fake-gpt-mini"]
    assert run(LLMClient(config_for(fake_anthropic)).list_models()) == [
        "claude-fake-1",
        "claude-fake-2",
    ]
    assert fake_openai.requests[0]["path"] == "/v1/models"
    assert fake_anthropic.requests[0]["path"] == "/v1/models"


def test_list_models_sync_for_views(fake_openai: FakeOpenAI) -> None:
    # A sync view runs in a thread without an event loop.
    assert in_thread(list_models_sync, config_for(fake_openai)) == ["fake-gpt", "fake-gpt-mini"]
    fake_openai.require_key = "sk-other"
    with pytest.raises(ProviderAuthError):
        in_thread(list_models_sync, config_for(fake_openai, api_key="sk-nope"))
