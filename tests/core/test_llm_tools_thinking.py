"""Tools and thinking through the LLM client, against fakes that speak each wire format
(and refuse, with a 400, what the real APIs refuse); the retry loop that plain and
streamed calls share."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apps.core.llm import (
    CapabilityError,
    ChatChunk,
    LLMClient,
    ProviderConfig,
    ProviderHTTPError,
    ThinkingUnsupported,
    ToolsUnsupported,
    check_capabilities,
)
from apps.core.llm.dialects import OpenAIDialect
from tests.core.test_llm_client import HELLO, config_for, run
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.base import Behaviour, FakeServer, Reply, tool_results
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.usefixtures("allow_loopback")

ADD = {
    "name": "add",
    "description": "Add two integers.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}
QUESTION = [
    {"role": "system", "content": "Use the tools for arithmetic."},
    {"role": "user", "content": "What are 2 + 3 and 4 + 5?"},
]


def capable(fake: FakeServer, **overrides: Any) -> ProviderConfig:
    thinking = "anthropic" if isinstance(fake, FakeAnthropic) else "reasoning_effort"
    return config_for(fake, thinking=thinking, tools=True, **overrides)


async def chat(config: ProviderConfig, messages: list[dict[str, Any]], **kwargs: Any) -> Any:
    return await LLMClient(config).chat(messages, **kwargs)


async def stream(config: ProviderConfig, **kwargs: Any) -> list[ChatChunk]:
    client = LLMClient(config)
    return [chunk async for chunk in client.stream_chat(HELLO, **kwargs)]


# ---- thinking -----------------------------------------------------------------------------


def test_anthropic_thinking_budget_goes_on_the_wire_and_comes_back_apart(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.enqueue(Behaviour(content="Rivers flow.", thinking="Think of water."))

    result = run(
        chat(
            capable(fake_anthropic),
            HELLO,
            thinking_budget=2000,
            max_tokens=500,
            temperature=0.7,
            top_p=0.9,
        )
    )

    body = fake_anthropic.requests[0]["json"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    # The answer keeps its 500 tokens on top of the budget, which must be below max_tokens.
    assert body["max_tokens"] == 2500
    assert "temperature" not in body and "top_p" not in body  # Anthropic refuses them
    assert (result.content, result.thinking) == ("Rivers flow.", "Think of water.")
    assert result.usage.thinking_tokens == 0  # counted inside output_tokens only
    assert result.finish_reason == "end_turn"


def test_anthropic_budget_is_raised_to_its_minimum_and_a_big_max_tokens_is_kept(
    fake_anthropic: FakeAnthropic,
) -> None:
    config = capable(fake_anthropic)
    run(chat(config, HELLO, thinking_budget=100))
    run(chat(config, HELLO, thinking_budget=2000, max_tokens=8000))

    small, roomy = (request["json"] for request in fake_anthropic.requests)
    assert small["thinking"]["budget_tokens"] == 1024
    assert small["max_tokens"] == 1024 + config.default_max_tokens
    assert (roomy["thinking"]["budget_tokens"], roomy["max_tokens"]) == (2000, 8000)


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4095, "low"), (4096, "medium"), (16383, "medium"), (16384, "high")],
)
def test_openai_budget_becomes_reasoning_effort(
    fake_openai: FakeOpenAI, budget: int, effort: str
) -> None:
    fake_openai.enqueue(Behaviour(content="Rivers flow.", thinking="Water goes downhill."))

    result = run(chat(capable(fake_openai), HELLO, thinking_budget=budget, temperature=0.5))

    body = fake_openai.requests[0]["json"]
    assert body["reasoning_effort"] == effort and body["temperature"] == 0.5
    assert "thinking" not in body
    assert (result.content, result.thinking) == ("Rivers flow.", "Water goes downhill.")
    assert 0 < result.usage.thinking_tokens < result.usage.output_tokens


def _openai_body(base_url: str, thinking_budget: int | None, **extra: Any) -> dict[str, Any]:
    config = ProviderConfig(
        key="p", kind="openai", base_url=base_url, api_key="sk-x", thinking="reasoning_effort"
    )
    dialect = OpenAIDialect(config)
    body = dialect.chat_body(
        HELLO,
        model="o4-mini",
        temperature=0.7,
        top_p=0.9,
        max_tokens=500,
        stop=None,
        json_schema=None,
        schema_name="answer",
        extra=None,
        stream=False,
    )
    dialect.add_features(body, tools=None, thinking_budget=thinking_budget, extra=extra or None)
    return body


def test_openai_itself_gets_max_completion_tokens_and_no_sampling_with_reasoning() -> None:
    # OpenAI's reasoning models answer 400 to max_tokens, and to a temperature or top_p
    # other than the default.
    for base_url in ("https://api.openai.com/v1", "https://team.openai.azure.com/openai/v1"):
        plain = _openai_body(base_url, None)
        assert plain["max_completion_tokens"] == 500 and "max_tokens" not in plain
        assert (plain["temperature"], plain["top_p"]) == (0.7, 0.9)
        reasoning = _openai_body(base_url, 4096)
        assert reasoning["reasoning_effort"] == "medium"
        assert reasoning["max_completion_tokens"] == 500
        assert not {"max_tokens", "temperature", "top_p"} & set(reasoning)
        # What the caller sets in `extra` is still sent.
        assert _openai_body(base_url, 4096, temperature=1)["temperature"] == 1
    # Other OpenAI-compatible servers keep the field they all know.
    other = _openai_body("https://api.groq.com/openai/v1", 4096)
    assert other["max_tokens"] == 500 and other["temperature"] == 0.7


def test_extra_still_has_the_last_word_over_the_thinking_budget(fake_openai: FakeOpenAI) -> None:
    run(chat(capable(fake_openai), HELLO, thinking_budget=20000, extra={"reasoning_effort": "low"}))
    assert fake_openai.requests[0]["json"]["reasoning_effort"] == "low"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_style_reasoning_fields_are_read(field: str) -> None:
    dialect = OpenAIDialect(ProviderConfig(key="p", kind="openai", base_url="http://h/v1"))
    message = {"role": "assistant", "content": "42", field: "6 times 7"}
    data = {"choices": [{"message": message, "finish_reason": "stop"}], "usage": {}}

    content, _, _, _, thinking, calls = dialect.parse_chat(data)

    assert (content, thinking, calls) == ("42", "6 times 7", [])


@pytest.mark.parametrize("fake_name", ["fake_openai", "fake_anthropic"])
def test_streamed_thinking_arrives_apart_from_the_text(
    fake_name: str, request: pytest.FixtureRequest
) -> None:
    fake: FakeServer = request.getfixturevalue(fake_name)
    fake.enqueue(Behaviour(content="Rivers flow to the sea.", thinking="Where does water go?"))

    chunks = run(stream(capable(fake), thinking_budget=2048))

    assert "".join(chunk.thinking for chunk in chunks) == "Where does water go?"
    assert "".join(chunk.delta for chunk in chunks) == "Rivers flow to the sea."
    assert all(not (chunk.thinking and chunk.delta) for chunk in chunks)
    assert chunks[-1].usage is not None and chunks[-1].finish_reason in ("stop", "end_turn")


# ---- what a provider cannot do ------------------------------------------------------------


@pytest.mark.parametrize("fake_name", ["fake_openai", "fake_anthropic"])
def test_asking_a_provider_for_what_it_cannot_do_fails_before_any_request(
    fake_name: str, request: pytest.FixtureRequest
) -> None:
    fake: FakeServer = request.getfixturevalue(fake_name)
    plain = config_for(fake, name="vllm-lan", thinking="none", tools=False)

    with pytest.raises(ThinkingUnsupported) as thinking:
        run(chat(plain, HELLO, thinking_budget=2048))
    with pytest.raises(ToolsUnsupported) as tools:
        run(chat(plain, HELLO, tools=[ADD]))
    with pytest.raises(ThinkingUnsupported):
        run(stream(plain, thinking_budget=2048))

    assert str(thinking.value) == (
        "Provider vllm-lan has no thinking option: it takes no thinking budget."
    )
    assert str(tools.value) == "Provider vllm-lan cannot call tools."
    assert not thinking.value.retryable and thinking.value.attempts == 1
    assert fake.requests == []


def test_check_capabilities_is_the_early_400() -> None:
    plain = ProviderConfig(key="provider:7", kind="openai", base_url="http://h/v1")
    capable_config = ProviderConfig(
        key="provider:8", kind="anthropic", base_url="http://h", thinking="anthropic", tools=True
    )

    check_capabilities(plain, thinking=False, tools=False)
    check_capabilities(capable_config, thinking=True, tools=True)
    with pytest.raises(ValueError, match=r"^Provider provider:7 cannot call tools\.$"):
        check_capabilities(plain, thinking=False, tools=True)
    with pytest.raises(CapabilityError, match="has no thinking option"):
        check_capabilities(plain, thinking=True, tools=False)


# ---- a tool conversation in each dialect --------------------------------------------------


def arithmetic(data: dict[str, Any]) -> Reply:
    """Asks for two additions, then answers with what the tools returned."""
    results = tool_results(data)
    if not results:
        return Reply(
            "Let me add.",
            tool_calls=[
                {"name": "add", "arguments": {"a": 2, "b": 3}},
                {"name": "add", "arguments": {"a": 4, "b": 5}},
            ],
        )
    return Reply(f"The sums are {' and '.join(str(r) for r in results)}.")


def converse(config: ProviderConfig, **kwargs: Any) -> tuple[Any, Any]:
    """Two turns: the model asks for tools, the test runs them and sends the results."""
    first = run(chat(config, QUESTION, tools=[ADD], **kwargs))
    messages = [*QUESTION, first.assistant_message(), *answers(first)]
    second = run(chat(config, messages, tools=[ADD], **kwargs))
    return first, second


def answers(result: Any) -> list[dict[str, Any]]:
    """The tool messages for the additions `result` asked for."""
    sums = [json.loads(call.arguments) for call in result.tool_calls]
    return [
        {"role": "tool", "tool_call_id": call.id, "content": str(args["a"] + args["b"])}
        for call, args in zip(result.tool_calls, sums, strict=True)
    ]


def test_openai_tool_conversation(fake_openai: FakeOpenAI) -> None:
    fake_openai.responder = arithmetic

    first, second = converse(capable(fake_openai))

    assert first.finish_reason == "tool_calls"
    assert [(c.name, json.loads(c.arguments)) for c in first.tool_calls] == [
        ("add", {"a": 2, "b": 3}),
        ("add", {"a": 4, "b": 5}),
    ]
    assert second.content == "The sums are 5 and 9." and second.tool_calls == []
    asked, answered = (request["json"] for request in fake_openai.requests)
    assert asked["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": ADD["parameters"],
            },
        }
    ]
    assistant, *results = answered["messages"][2:]
    assert assistant["tool_calls"] == [call.as_openai() for call in first.tool_calls]
    assert results == [
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "5"},
        {"role": "tool", "tool_call_id": first.tool_calls[1].id, "content": "9"},
    ]


@pytest.mark.parametrize("thinking_budget", [None, 2048])
def test_anthropic_tool_conversation(
    fake_anthropic: FakeAnthropic, thinking_budget: int | None
) -> None:
    fake_anthropic.responder = arithmetic

    first, second = converse(capable(fake_anthropic), thinking_budget=thinking_budget)

    assert first.finish_reason == "tool_use" and first.content == "Let me add."
    assert [json.loads(c.arguments) for c in first.tool_calls] == [
        {"a": 2, "b": 3},
        {"a": 4, "b": 5},
    ]
    assert second.content == "The sums are 5 and 9."
    asked, answered = (request["json"] for request in fake_anthropic.requests)
    assert asked["tools"] == [
        {"name": "add", "description": "Add two integers.", "input_schema": ADD["parameters"]}
    ]
    assert asked["system"] == "Use the tools for arithmetic."
    assistant, results = answered["messages"][1:]
    uses = [block for block in assistant["content"] if block["type"] == "tool_use"]
    assert [(u["id"], u["name"], u["input"]) for u in uses] == [
        (first.tool_calls[0].id, "add", {"a": 2, "b": 3}),
        (first.tool_calls[1].id, "add", {"a": 4, "b": 5}),
    ]
    # Both results in ONE user message, as the Messages API requires.
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": first.tool_calls[0].id, "content": "5"},
            {"type": "tool_result", "tool_use_id": first.tool_calls[1].id, "content": "9"},
        ],
    }
    if thinking_budget:
        # With thinking on, the signed thinking block must go back before the tool_use.
        assert assistant["content"][0]["type"] == "thinking" and first.thinking
    else:
        assert assistant["content"][0] == {"type": "text", "text": "Let me add."}


def test_tool_results_sent_apart_are_refused_by_the_anthropic_fake(
    fake_anthropic: FakeAnthropic,
) -> None:
    # The fake holds the client to the API's rule: results in two user messages instead
    # of one are a 400, so the merge above is what makes the conversation work.
    fake_anthropic.responder = arithmetic
    config = capable(fake_anthropic)
    first = run(chat(config, QUESTION, tools=[ADD]))
    run(chat(config, [*QUESTION, first.assistant_message(), *answers(first)], tools=[ADD]))
    merged = fake_anthropic.requests[-1]["json"]["messages"]
    apart = [
        *merged[:-1],
        *({"role": "user", "content": [block]} for block in merged[-1]["content"]),
    ]

    with pytest.raises(ProviderHTTPError, match="tool_result") as caught:
        run(chat(config, QUESTION, tools=[ADD], extra={"messages": apart}))
    assert caught.value.status_code == 400


# ---- one retry loop for plain and streamed calls -----------------------------------------


def call(config: ProviderConfig, streamed: bool) -> str:
    if streamed:
        return "".join(chunk.delta for chunk in run(stream(config)))
    return str(run(chat(config, HELLO)).content)


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("fake_name", ["fake_openai", "fake_anthropic"])
def test_a_503_then_success_works_for_plain_and_streamed_calls(
    fake_name: str, streamed: bool, request: pytest.FixtureRequest
) -> None:
    fake: FakeServer = request.getfixturevalue(fake_name)
    fake.enqueue(Behaviour(status=503), Behaviour(content="Second time lucky."))

    assert call(config_for(fake), streamed) == "Second time lucky."
    assert [r["status"] for r in fake.requests] == [503, 200]


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_plain_and_streamed_calls_give_up_alike(fake_openai: FakeOpenAI, streamed: bool) -> None:
    fake_openai.script(fail_times=100, fail_status=502)

    with pytest.raises(ProviderHTTPError) as caught:
        call(config_for(fake_openai, max_attempts=3), streamed)

    assert caught.value.attempts == 3 and len(fake_openai.requests) == 3
    assert caught.value.user_message.endswith("(gave up after 3 attempts)")
