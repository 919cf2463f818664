"""Prompts for one generation call, built from the spec and the run's settings.

Every choice that involves chance draws from a generator seeded with the run's
`random_seed` and the call's index, so a call rebuilt after a crash asks the same thing.
"""

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.runs.models import ExplorationMode, SeedShuffling
from apps.specs.models import SpecVersion
from apps.specs.task_types import SpecContent, content_of, handler

from .local_settings import LocalSettings
from .planning import attributes_for

# Sampling settings per exploration mode (withpi's names). Higher modes trade
# faithfulness to the seeds for variety.
EXPLORATION: dict[str, dict[str, float]] = {
    ExplorationMode.CONSERVATIVE: {"temperature": 0.3, "top_p": 0.8},
    ExplorationMode.BALANCED: {"temperature": 0.7, "top_p": 0.9},
    ExplorationMode.CREATIVE: {"temperature": 1.0, "top_p": 0.95},
    ExplorationMode.ADVENTUROUS: {"temperature": 1.2, "top_p": 1.0},
}
EXPLORATION_HINT: dict[str, str] = {
    # {reference}: the examples in the prompt, or the domain's typical cases without any.
    ExplorationMode.CONSERVATIVE: "Stay close to {reference} in topic and style.",
    ExplorationMode.BALANCED: "Vary topics and wording while keeping the spirit of {reference}.",
    ExplorationMode.CREATIVE: "Explore new situations, styles and phrasings.",
    ExplorationMode.ADVENTUROUS: "Go far from {reference}: unusual and edge cases, rare styles.",
}


@dataclass(frozen=True)
class PromptSettings:
    description: str
    instruction: str
    requirements: tuple[str, ...]
    content: SpecContent
    batch_size: int
    num_shots: int
    max_examples_in_prompt: int
    seed_shuffling: str
    exploration_mode: str
    random_seed: int
    # The run's topic plan (planning.py), once it has one.
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallPlan:
    messages: list[dict[str, str]]
    original: dict[str, Any] | None  # the seed a multiplier call expands


def _shots(settings: PromptSettings, rng: random.Random) -> list[dict[str, Any]]:
    seeds = list(settings.content.seeds)
    count = min(settings.num_shots, settings.max_examples_in_prompt, len(seeds))
    if count == 0:
        return []
    if settings.seed_shuffling == SeedShuffling.NONE:
        return seeds[:count]
    if settings.seed_shuffling == SeedShuffling.FIELD:
        # Recombine fields across seeds: each shot takes each field from a random seed,
        # so the model sees new combinations rather than memorised rows.
        keys = [k for k in seeds[0] if all(k in s for s in seeds)]
        mixed = [{k: rng.choice(seeds)[k] for k in keys} for _ in range(count)]
        # Labelled tasks keep whole seeds: a text must stay with its own labels.
        return (
            mixed
            if settings.content.task_type in ("decoder", "custom")
            else rng.sample(seeds, count)
        )
    return rng.sample(seeds, count)


# Seed examples in one prompt stop at about 10K tokens (~4 characters a token), however
# many `num_shots` and `max_examples_in_prompt` allow: long seeds would crowd out the rest.
SHOTS_CHARS_BUDGET = 40_000


def _within_budget(shots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    used = 0
    for shot in shots:
        used += len(json.dumps(shot, ensure_ascii=False)) + 1
        if kept and used > SHOTS_CHARS_BUDGET:
            break
        kept.append(shot)
    return kept


def _format_shots(shots: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(shot, ensure_ascii=False) for shot in shots)


def build_call(
    settings: PromptSettings,
    call_index: int,
    *,
    wanted_labels: list[str] | None = None,
    original: dict[str, Any] | None = None,
) -> CallPlan:
    """The messages of call number `call_index`."""
    rng = random.Random(f"{settings.random_seed}:{call_index}")
    describe = handler(settings.content.task_type).describe(settings.content)
    requirements = list(settings.requirements)
    parts = [f"Domain: {settings.description.strip()}"]
    if settings.instruction.strip():
        parts.append(f"Instructions: {settings.instruction.strip()}")
    parts.append(describe)
    if settings.seed_shuffling == SeedShuffling.PROMPT:
        rng.shuffle(requirements)
    if requirements:
        parts.append(
            "Every sample must meet these requirements:\n"
            + "\n".join(f"- {r}" for r in requirements)
        )
    shots: list[dict[str, Any]] = []
    if original is not None:
        parts.append(
            "Write new variations of this example, each different from it and from each "
            "other, keeping its structure:\n" + json.dumps(original, ensure_ascii=False)
        )
    else:
        shots = _within_budget(_shots(settings, rng))
        if settings.seed_shuffling == SeedShuffling.PROMPT:
            rng.shuffle(shots)
        if shots:
            parts.append("Examples (do not copy them):\n" + _format_shots(shots))
    if wanted_labels:
        parts.append(
            "Labels still needed in this dataset: "
            + ", ".join(wanted_labels)
            + ". Prefer samples with these labels."
        )
    reference = "the examples" if original is not None or shots else "the domain's typical cases"
    parts.append(EXPLORATION_HINT.get(settings.exploration_mode, "").format(reference=reference))
    parts.append(
        attributes_for(call_index, seed=settings.random_seed, topics=settings.topics).as_prompt()
    )
    parts.append(
        f'Return a JSON object {{"samples": [...]}} with exactly {settings.batch_size} new samples.'
    )
    system = (
        "You generate realistic, diverse and correctly labelled training data. "
        "You answer with JSON only."
    )
    user = "\n\n".join(p for p in parts if p)
    return CallPlan(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        original=original,
    )


def wanted_labels(
    labels: tuple[str, ...], counts: Mapping[str, float], target: int, batch_size: int
) -> list[str]:
    """The labels one call should ask for: the most lacking first, as many as it takes
    for their shortfalls (against an equal share of `target`) to fill a batch.

    `counts` holds the accepted samples plus what the calls in flight were asked for, so
    calls that start together ask for different labels instead of all for the same.
    """
    if not labels:
        return []
    share = target / len(labels)
    short = sorted(
        (label for label in labels if counts.get(label, 0) < share),
        key=lambda label: counts.get(label, 0),
    )
    wanted: list[str] = []
    shortfall = 0.0
    for label in short:
        wanted.append(label)
        shortfall += share - counts.get(label, 0)
        if shortfall >= batch_size:
            break
    return wanted


def prompt_settings(
    version: SpecVersion, options: LocalSettings, topics: tuple[str, ...] = ()
) -> PromptSettings:
    """What the prompts of a run of `version` with these settings are made from."""
    return PromptSettings(
        description=version.description,
        instruction=version.instruction,
        requirements=tuple(version.requirements or ()),
        content=content_of(version),
        batch_size=options.batch_size,
        num_shots=options.num_shots,
        max_examples_in_prompt=options.max_examples_in_prompt,
        seed_shuffling=options.seed_shuffling,
        exploration_mode=options.exploration_mode,
        random_seed=options.random_seed,
        topics=topics,
    )
