"""What a stage gets: model clients by role, the spec, the run's state, a usage meter and
a random generator seeded by the run.

Every model call of a stage goes through `StageContext.call`, which records the stage,
role, model, tokens and latency of the call (rejected work included) in the meter.
"""

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from apps.core.llm import (
    ChatResult,
    LLMClient,
    LLMError,
    ProviderAuthError,
    ProviderConfig,
    ProviderRefused,
)

from .local_settings import LocalSettings
from .prompts import PromptSettings
from .roles import RoleModel

# Errors after which more calls cannot help: the run fails.
FATAL_ERRORS = (ProviderAuthError, ProviderRefused)
USAGE_KEYS = ("calls", "failed", "input_tokens", "output_tokens", "thinking_tokens", "latency_ms")


@dataclass
class RoleClient:
    chosen: RoleModel
    config: ProviderConfig
    client: LLMClient


@dataclass
class UsageMeter:
    """(stage, provider id, model) → counters; what a step commits into the run's usage."""

    counts: defaultdict[tuple[str, int, str], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(USAGE_KEYS, 0))
    )

    def record(
        self, stage: str, role: RoleModel, result: ChatResult | None, started: float
    ) -> None:
        row = self.counts[(stage, role.provider_id, role.model)]
        row["latency_ms"] += round((time.perf_counter() - started) * 1000)
        if result is None:
            row["failed"] += 1
            return
        row["calls"] += 1
        row["input_tokens"] += result.usage.input_tokens
        row["output_tokens"] += result.usage.output_tokens
        row["thinking_tokens"] += getattr(result.usage, "thinking_tokens", 0)

    @classmethod
    def holding(cls, counts: dict[tuple[str, int, str], dict[str, int]]) -> "UsageMeter":
        meter = cls()
        meter.counts.update(counts)
        return meter

    def take(self) -> dict[tuple[str, int, str], dict[str, int]]:
        taken, self.counts = dict(self.counts), UsageMeter().counts
        return taken


@dataclass
class StageContext:
    roles: dict[str, RoleClient]
    prompt: PromptSettings
    options: LocalSettings
    state: Any  # the chunk's ChunkState (stages.py)
    meter: UsageMeter
    run_seed: int
    max_tokens: int = 2048

    def rng(self, *parts: object) -> random.Random:
        """A generator for one decision, the same after a crash and a redelivery."""
        return random.Random(":".join(map(str, (self.run_seed, *parts))))

    async def call(
        self,
        stage: str,
        role: str,
        messages: list[dict[str, Any]],
        **options: Any,
    ) -> ChatResult:
        """A model call made for `stage` by the model of `role`; LLMError as the client
        raises it, after the meter has counted the failed call."""
        chosen = self.roles[role]
        started = time.perf_counter()
        if chosen.chosen.thinking_budget:
            options["thinking_budget"] = chosen.chosen.thinking_budget
        options.setdefault("max_tokens", self.max_tokens)
        try:
            result = await chosen.client.chat(messages, model=chosen.chosen.model, **options)
        except LLMError:
            self.meter.record(stage, chosen.chosen, None, started)
            raise
        self.meter.record(stage, chosen.chosen, result, started)
        return result
