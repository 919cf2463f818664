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


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


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


@dataclass
class ChatChunk:
    delta: str
    # Only the last chunk of a stream carries these (usage when the server sends it).
    finish_reason: str | None = None
    usage: Usage | None = None
