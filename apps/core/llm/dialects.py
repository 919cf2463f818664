"""Wire formats: how a chat call looks on the wire for OpenAI-style and Anthropic APIs."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from .capabilities import apply_thinking
from .config import ChatChunk, ProviderConfig, ToolCall, Usage
from .errors import LLMError, ProviderBadResponse, ProviderHTTPError
from .grammar_safety import grammar_safe
from .sse import SSEEvent
from .tool_wire import (
    anthropic_blocks,
    anthropic_tools,
    anthropic_turns,
    openai_tool_calls,
    openai_tools,
)
from .tool_wire import text_of as _text

ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = "seedbed-llm-client/0.1"

# (content, model, finish_reason, usage, thinking, tool calls)
Parsed = tuple[str, str, str | None, Usage, str, list[ToolCall]]


def schema_instruction(schema: dict[str, Any]) -> str:
    """The prompt text used when a provider cannot constrain decoding to a schema."""
    return (
        "Answer with a single JSON value and nothing else (no prose, no code fences). "
        "It must validate against this JSON Schema:\n"
        + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _bad(what: str) -> ProviderBadResponse:
    return ProviderBadResponse(f"The provider's answer was not understood: {what}.")


def _load(data: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError:
        raise _bad("a stream event is not valid JSON") from None
    if not isinstance(obj, dict):
        raise _bad("a stream event is not a JSON object")
    return obj


def error_text(obj: Any) -> str:
    """The human part of an error body in either dialect (or of a stream error event)."""
    if isinstance(obj, dict):
        error = obj.get("error", obj)
        if isinstance(error, dict):
            for field in ("message", "detail", "type"):
                if isinstance(error.get(field), str):
                    return error[field]  # type: ignore[no-any-return]
        if isinstance(error, str):
            return error
        for field in ("message", "detail"):
            if isinstance(obj.get(field), str):
                return obj[field]  # type: ignore[no-any-return]
    return ""


def is_openai_host(base_url: str) -> bool:
    """OpenAI's own API (or Azure's): it wants `max_completion_tokens`, and its reasoning
    models refuse `max_tokens` and any temperature or top_p but the default."""
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


class OpenAIDialect:
    def __init__(self, config: ProviderConfig) -> None:
        base = config.base_url.rstrip("/")
        self.config = config
        self.openai_host = is_openai_host(base)
        self.chat_url = f"{base}/chat/completions"
        self.models_url = f"{base}/models"
        self.headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        if config.api_key:
            self.headers["authorization"] = f"Bearer {config.api_key}"
        self.stream_headers = {**self.headers, "accept": "text/event-stream"}

    def chat_body(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        stop: list[str] | None,
        json_schema: dict[str, Any] | None,
        schema_name: str,
        extra: dict[str, Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        model = model or self.config.default_model
        if model:
            body["model"] = model
        mode = self.config.structured_output
        if json_schema is not None and mode == "none":
            messages = _with_system_text(messages, schema_instruction(json_schema))
        body["messages"] = messages
        if json_schema is not None and mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": json_schema, "strict": True},
            }
        elif json_schema is not None and mode == "json_object_schema":
            # llama.cpp compiles the schema into a grammar, and one it cannot parse takes
            # the whole server down: only a checked, re-encoded schema goes there.
            body["response_format"] = {"type": "json_object", "schema": grammar_safe(json_schema)}
        if temperature is not None:
            body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
        if max_tokens is not None:
            body["max_completion_tokens" if self.openai_host else "max_tokens"] = max_tokens
        if stop:
            body["stop"] = stop
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if extra:
            body.update(extra)
        return body

    def add_features(
        self,
        body: dict[str, Any],
        *,
        tools: list[dict[str, Any]] | None,
        thinking_budget: int | None,
        extra: dict[str, Any] | None,
    ) -> None:
        """Tools and a thinking budget into a `chat_body` (kept out of it: most calls
        have neither, and the plain path stays lean); `extra` still has the last word."""
        _add_features(body, openai_tools, self.config, tools, thinking_budget, None)
        if thinking_budget is not None and self.openai_host:
            body.pop("temperature", None)
            body.pop("top_p", None)
        if extra:
            body.update(extra)

    def parse_chat(self, data: dict[str, Any]) -> Parsed:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise _bad("it has no choices")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise _bad("the first choice has no message")
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise _bad("the message content is not text")
        thinking = ""
        calls: list[ToolCall] = []
        if len(message) > 2:  # more than role and content
            # vLLM and DeepSeek say reasoning_content, OpenRouter and Ollama reasoning.
            found = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(found, str):
                thinking = found
            if raw_calls := message.get("tool_calls"):
                calls = openai_tool_calls(raw_calls)
        return (
            content,
            str(data.get("model") or ""),
            choices[0].get("finish_reason"),
            _openai_usage(data.get("usage")),
            thinking,
            calls,
        )

    async def iter_stream(self, events: AsyncIterator[SSEEvent]) -> AsyncGenerator[ChatChunk, None]:
        finish: str | None = None
        usage = Usage()
        done = False
        async for event in events:
            if event.data.strip() == "[DONE]":
                done = True
                break
            obj = _load(event.data)
            if "error" in obj:
                raise ProviderHTTPError(
                    f"The provider reported an error mid-stream: {error_text(obj)}"
                )
            raw_usage = obj.get("usage")
            if isinstance(raw_usage, dict):
                usage = _openai_usage(raw_usage)
            for choice in obj.get("choices") or ():
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if text:
                    yield ChatChunk(text)
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and isinstance(reasoning, str):
                    yield ChatChunk("", thinking=reasoning)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        if not done and finish is None:
            raise _bad("the stream ended before the answer was complete")
        yield ChatChunk("", finish_reason=finish, usage=usage)

    @staticmethod
    def parse_models(data: dict[str, Any]) -> list[str]:
        items = data.get("data")
        if not isinstance(items, list):
            raise _bad("the model list has no data")
        return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


class AnthropicDialect:
    def __init__(self, config: ProviderConfig) -> None:
        base = config.base_url.rstrip("/")
        base = base.removesuffix("/v1")
        self.config = config
        self.chat_url = f"{base}/v1/messages"
        self.models_url = f"{base}/v1/models"
        self.headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": ANTHROPIC_VERSION,
            "user-agent": USER_AGENT,
        }
        if config.api_key:
            self.headers["x-api-key"] = config.api_key
        self.stream_headers = {**self.headers, "accept": "text/event-stream"}

    def chat_body(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None,
        temperature: float | None,
        top_p: float | None,
        max_tokens: int | None,
        stop: list[str] | None,
        json_schema: dict[str, Any] | None,
        schema_name: str,
        extra: dict[str, Any] | None,
        stream: bool,
    ) -> dict[str, Any]:
        system, turns = anthropic_turns(messages)
        # No constrained decoding here: the schema is described in the system prompt.
        if json_schema is not None:
            system.append(schema_instruction(json_schema))
        body: dict[str, Any] = {
            "model": model or self.config.default_model,
            "max_tokens": max_tokens if max_tokens is not None else self.config.default_max_tokens,
            "messages": turns,
        }
        if system:
            body["system"] = "\n\n".join(part for part in system if part)
        if temperature is not None:
            body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
        if stop:
            body["stop_sequences"] = stop
        if stream:
            body["stream"] = True
        if extra:
            body.update(extra)
        return body

    def add_features(
        self,
        body: dict[str, Any],
        *,
        tools: list[dict[str, Any]] | None,
        thinking_budget: int | None,
        extra: dict[str, Any] | None,
    ) -> None:
        """See OpenAIDialect.add_features."""
        _add_features(body, anthropic_tools, self.config, tools, thinking_budget, extra)

    def parse_chat(self, data: dict[str, Any]) -> Parsed:
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise _bad("it has no content blocks")
        text, thinking, calls = anthropic_blocks(blocks)
        usage = data.get("usage") or {}
        return (
            text,
            str(data.get("model") or ""),
            data.get("stop_reason"),
            # Thinking is inside output_tokens; Anthropic does not report it apart.
            Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens"))),
            thinking,
            calls,
        )

    async def iter_stream(self, events: AsyncIterator[SSEEvent]) -> AsyncGenerator[ChatChunk, None]:
        finish: str | None = None
        input_tokens = output_tokens = 0
        async for event in events:
            obj = _load(event.data)
            kind = obj.get("type") or event.event
            if kind == "content_block_delta":
                delta = obj.get("delta") or {}
                if delta.get("type") == "text_delta" and delta.get("text"):
                    yield ChatChunk(delta["text"])
                elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                    yield ChatChunk("", thinking=str(delta["thinking"]))
            elif kind == "message_start":
                usage = (obj.get("message") or {}).get("usage") or {}
                input_tokens = _int(usage.get("input_tokens"))
                output_tokens = _int(usage.get("output_tokens"))
            elif kind == "message_delta":
                finish = (obj.get("delta") or {}).get("stop_reason") or finish
                usage = obj.get("usage") or {}
                # Counts in message_delta are cumulative.
                output_tokens = _int(usage.get("output_tokens")) or output_tokens
                input_tokens = _int(usage.get("input_tokens")) or input_tokens
            elif kind == "message_stop":
                yield ChatChunk("", finish_reason=finish, usage=Usage(input_tokens, output_tokens))
                return
            elif kind == "error":
                error: LLMError = ProviderHTTPError(
                    f"The provider reported an error mid-stream: {error_text(obj)}",
                    # overloaded_error is Anthropic's 529: worth another try.
                    retryable=(obj.get("error") or {}).get("type") == "overloaded_error",
                )
                raise error
        raise _bad("the stream ended before message_stop")

    @staticmethod
    def parse_models(data: dict[str, Any]) -> list[str]:
        return OpenAIDialect.parse_models(data)


Dialect = OpenAIDialect | AnthropicDialect


def make_dialect(config: ProviderConfig) -> Dialect:
    return AnthropicDialect(config) if config.is_anthropic else OpenAIDialect(config)


def _add_features(
    body: dict[str, Any],
    wire_tools: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    config: ProviderConfig,
    tools: list[dict[str, Any]] | None,
    thinking_budget: int | None,
    extra: dict[str, Any] | None,
) -> None:
    if tools:
        body["tools"] = wire_tools(tools)
    if thinking_budget is not None:
        apply_thinking(body, config.thinking, thinking_budget, config.default_max_tokens)
    if extra:
        body.update(extra)


def _openai_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict):
        return Usage(
            _int(usage.get("prompt_tokens")),
            _int(usage.get("completion_tokens")),
            _int(details.get("reasoning_tokens")),
        )
    return Usage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))


def _with_system_text(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    # Copies: the caller's message list is reused across calls and must stay untouched.
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        first["content"] = f"{_text(first.get('content'))}\n\n{text}".strip()
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]
