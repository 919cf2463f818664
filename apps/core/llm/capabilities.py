"""What a provider can do beyond plain chat (tools, a thinking budget), checked before any
request is sent, and how a thinking budget goes on the wire.

`check_capabilities` is pure, so run creation can refuse a run early (a 400 naming the
provider) with the same words the client would raise at call time.
"""

from __future__ import annotations

from typing import Any

from .config import ProviderConfig
from .errors import ThinkingUnsupported, ToolsUnsupported

# Anthropic refuses a smaller budget; a smaller one asked for is raised to this.
ANTHROPIC_MIN_BUDGET = 1024
# Budget (tokens) -> OpenAI's reasoning_effort: below 4096 "low", below 16384 "medium".
EFFORT_STEPS: tuple[tuple[int, str], ...] = ((4096, "low"), (16384, "medium"))


def check_capabilities(config: ProviderConfig, *, thinking: bool, tools: bool) -> None:
    """Raise ThinkingUnsupported / ToolsUnsupported (CapabilityError, a ValueError) when
    `config`'s provider cannot think or call tools and the caller asks for it."""
    if tools and not config.tools:
        raise ToolsUnsupported(f"Provider {config.label} cannot call tools.")
    if thinking and config.thinking == "none":
        raise ThinkingUnsupported(
            f"Provider {config.label} has no thinking option: it takes no thinking budget."
        )


def reasoning_effort(budget: int) -> str:
    """OpenAI's `reasoning_effort` for a thinking budget in tokens."""
    for below, effort in EFFORT_STEPS:
        if budget < below:
            return effort
    return "high"


def apply_thinking(body: dict[str, Any], mode: str, budget: int, default_max_tokens: int) -> None:
    """Put a thinking budget into a request body, in the provider's `thinking` mode.

    "anthropic": `thinking: {type: enabled, budget_tokens}` with the budget at least
    1024; Anthropic counts thinking inside max_tokens and wants the budget below it, so
    max_tokens grows by the budget when it is not already larger (the answer keeps its
    room); temperature and top_p are dropped, since Anthropic refuses them with thinking.
    "reasoning_effort": the budget mapped to low / medium / high.
    """
    if mode == "anthropic":
        budget = max(ANTHROPIC_MIN_BUDGET, budget)
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int):
            max_tokens = default_max_tokens
        if max_tokens <= budget:
            max_tokens += budget
        body["max_tokens"] = max_tokens
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        body.pop("temperature", None)
        body.pop("top_p", None)
    elif mode == "reasoning_effort":
        body["reasoning_effort"] = reasoning_effort(budget)
