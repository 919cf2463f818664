"""What the client needs to know about a provider, and what a call returns.

`ProviderConfig` is built from the Provider row by the caller; this package never touches
the ORM, so it works the same in a Celery worker, under ASGI and in a subprocess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ProviderKind = Literal["openai", "anthropic", "embedded"]
StructuredOutput = Literal["json_schema", "json_object_schema", "none"]
THINKING_MODES: tuple[str, ...] = ("anthropic", "reasoning_effort", "none")

KINDS: tuple[str, ...] = ("openai", "anthropic", "embedded")
STRUCTURED_OUTPUT_MODES: tuple[str, ...] = ("json_schema", "json_object_schema", "none")


@dataclass(frozen=True)
class ProviderConfig:
    # Stable namespace for the cross-process limits, e.g. "provider:12".
    key: str
    kind: str
    # OpenAI style ends in /v1; Anthropic may be given with or without /v1.
    base_url: str
    api_key: str = field(default="", repr=False)
    default_model: str = ""
    # How a JSON schema is put on the wire: OpenAI/vLLM "json_schema", llama.cpp server
    # "json_object_schema", or "none" (the schema is only described in the prompt).
    structured_output: str = "json_schema"
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrency: int = 16
    timeout_seconds: float = 60.0  # read timeout: longest silence between bytes
    connect_timeout: float = 5.0
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    # A Retry-After longer than this is not slept through inside a call: the error is
    # raised at once with `.retry_after` set, so a task can reschedule itself instead.
    max_retry_after: float = 120.0
    # Anthropic requires max_tokens; this is used when the caller gives none.
    default_max_tokens: int = 1024
    # What the provider can do beyond plain chat. `thinking`: how a thinking budget goes on
    # the wire: "anthropic" (thinking.budget_tokens), "reasoning_effort" (OpenAI's
    # reasoning models) or "none" (the provider has no thinking; asking for it is an error).
    thinking: str = "none"
    # Whether the provider's models can call tools (OpenAI tool_calls, Anthropic tool_use).
    tools: bool = False
    # The name people know the provider by, for messages ("Provider vllm cannot call
    # tools"); the key stands in when it is empty.
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown provider kind {self.kind!r}; expected one of {KINDS}.")
        if self.structured_output not in STRUCTURED_OUTPUT_MODES:
            raise ValueError(
                f"Unknown structured_output {self.structured_output!r}; "
                f"expected one of {STRUCTURED_OUTPUT_MODES}."
            )
        if self.thinking not in THINKING_MODES:
            raise ValueError(
                f"Unknown thinking {self.thinking!r}; expected one of {THINKING_MODES}."
            )
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1.")

    @property
    def is_anthropic(self) -> bool:
        return self.kind == "anthropic"

    @property
    def label(self) -> str:
        return self.name or self.key


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    # Reasoning tokens, where the provider reports them apart (OpenAI's
    # completion_tokens_details.reasoning_tokens); they are included in output_tokens.
    # Anthropic counts thinking in output_tokens only, so this stays 0 there.
    thinking_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asks to run; `arguments` is the raw JSON text the model wrote
    (it may not parse: the caller decides what to answer then)."""

    id: str
    name: str
    arguments: str

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class ChatResult:
    content: str
    model: str
    finish_reason: str | None
    usage: Usage
    # How many HTTP requests this call made (1 when the first one succeeded).
    attempts: int
    # Wall time of the whole call: limiter waits, retries and backoff included.
    latency_ms: float
    raw: dict[str, Any]
    # The model's reasoning when the provider returns it (Anthropic thinking blocks joined
    # by blank lines, OpenAI-style `reasoning_content` / `reasoning`); "" otherwise.
    thinking: str = ""
    # Tools the model asks to run; finish_reason is then "tool_calls" or "tool_use".
    tool_calls: list[ToolCall] = field(default_factory=list)

    def assistant_message(self) -> dict[str, Any]:
        """This answer as the next assistant message of the conversation (neutral shape:
        `tool_calls` in OpenAI's form). After an Anthropic answer with thinking it also
        carries the signed thinking blocks (`thinking_blocks`), which Anthropic requires
        back before the tool results; send such a message to Anthropic providers only."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.as_openai() for call in self.tool_calls]
        blocks = self.raw.get("content")
        if isinstance(blocks, list):
            kept = [
                block
                for block in blocks
                if isinstance(block, dict)
                and block.get("type") in ("thinking", "redacted_thinking")
            ]
            if kept:
                message["thinking_blocks"] = kept
        return message


@dataclass
class ChatChunk:
    delta: str
    # Only the last chunk of a stream carries these (usage when the server sends it).
    finish_reason: str | None = None
    usage: Usage | None = None
    # Reasoning text as it streams (with delta ""), for providers that send it.
    thinking: str = ""
