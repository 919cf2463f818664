"""The local engine's run settings, declared once (see apps/core/options.py)."""

from dataclasses import dataclass

from django.db import models

from apps.core.options import option
from apps.runs.models import ExplorationMode, SeedShuffling

MAX_BATCH = 10
MAX_SHOTS = 10
MAX_CONCURRENCY = 64
MAX_EXAMPLES_IN_PROMPT = 50
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1  # a bigint
MIN_THINKING, MAX_THINKING = 1024, 64_000


class RevisionType(models.TextChoices):
    COHERENCE_FLOW = "coherence_flow", "Coherence and flow: fix formatting and flow"
    CONSISTENCY = "consistency", "Consistency: fix internal contradictions"
    DISTINGUISHABILITY = (
        "distinguishability",
        "Distinguishability: rewrite toward the seeds' style (seeded specs)",
    )
    CONFORMANCE = "conformance", "Conformance: check every requirement and the label, fix failures"


class FilteringType(models.TextChoices):
    STRUCTURAL = "structural", "Structural: reject empty, truncated or malformed samples"
    CONFORMANCE = "conformance", "Conformance: reject samples the judge finds in breach"


class Tool(models.TextChoices):
    CALCULATOR = "calculator", "Calculator (sandboxed arithmetic)"


@dataclass(frozen=True)
class LocalSettings:
    exploration_mode: str = option(
        ExplorationMode.BALANCED.value,
        choices=ExplorationMode,
        help="How far from the seeds samples may go.",
    )
    seed_shuffling: str = option(
        SeedShuffling.SAMPLE.value, choices=SeedShuffling, help="How seeds vary between prompts."
    )
    batch_size: int = option(5, low=1, high=MAX_BATCH, help=f"Samples per call, 1 to {MAX_BATCH}.")
    num_shots: int = option(
        3, low=0, high=MAX_SHOTS, help=f"Seed examples per prompt, 0 to {MAX_SHOTS}."
    )
    max_examples_in_prompt: int = option(
        10,
        low=0,
        high=MAX_EXAMPLES_IN_PROMPT,
        help=f"Most seed examples in one prompt, 0 to {MAX_EXAMPLES_IN_PROMPT}.",
    )
    concurrency: int = option(
        8, low=1, high=MAX_CONCURRENCY, help=f"Calls in flight, 1 to {MAX_CONCURRENCY}."
    )
    random_seed: int = option(
        0, low=MIN_SEED, high=MAX_SEED, help="Every random choice follows from it."
    )
    balance_labels: bool = option(
        True, help="Classification: ask for the labels that are short of their share."
    )
    # --- models per role ------------------------------------------------------------
    outline_model: str = option(
        "",
        group="models",
        help="A provider/model id for outlines. Empty: the generation model. "
        "A -thinking suffix turns thinking on.",
    )
    revision_model: str = option(
        "",
        group="models",
        help="A provider/model id for judging and revising. Empty: the generation model.",
    )
    generation_thinking_budget: int | None = option(
        None,
        low=MIN_THINKING,
        high=MAX_THINKING,
        group="models",
        help=f"Thinking tokens for drafts, {MIN_THINKING:,} to {MAX_THINKING:,}; empty: off.",
    )
    outline_thinking_budget: int | None = option(
        None,
        low=MIN_THINKING,
        high=MAX_THINKING,
        group="models",
        help="Thinking tokens for outlines; empty: off.",
    )
    revision_thinking_budget: int | None = option(
        None,
        low=MIN_THINKING,
        high=MAX_THINKING,
        group="models",
        help="Thinking tokens for judging and revising; empty: off.",
    )
    # --- quality --------------------------------------------------------------------
    skip_outline: bool = option(
        True,
        group="quality",
        help="Draft directly in one call; off: an outline call plans each batch first.",
    )
    unified_multifield: bool = option(
        True,
        group="quality",
        help="Specs with several fields (custom, decoder, conversation): all fields in one "
        "call; off: one call per field, each seeing the fields already written.",
    )
    revision_types: tuple[str, ...] = option(
        (), choices=RevisionType, group="quality", help="Revisions a judge checks for."
    )
    max_revision_cycles: int = option(
        1, low=1, high=5, group="quality", help="Judge-and-revise cycles, 1 to 5."
    )
    filtering_types: tuple[str, ...] = option(
        (),
        choices=FilteringType,
        group="quality",
        help="Gates; a sample that fails one is regenerated.",
    )
    enable_revisions: bool = option(
        False,
        group="quality",
        help="Without revision or filtering types: every revision type and structural "
        "filtering (Dataframer's legacy flag).",
    )
    near_duplicate_threshold: int = option(
        90,
        low=50,
        high=100,
        group="quality",
        help="Reject a text this similar (Jaccard %, character 5-grams) to one in the dataset.",
    )
    tools: tuple[str, ...] = option(
        (), choices=Tool, group="quality", help="Tools the drafting model may call."
    )

    @property
    def revisions(self) -> tuple[str, ...]:
        if self.enable_revisions and not self.revision_types and not self.filtering_types:
            return tuple(RevisionType.values)
        return self.revision_types

    @property
    def filters(self) -> tuple[str, ...]:
        if self.enable_revisions and not self.revision_types and not self.filtering_types:
            return (FilteringType.STRUCTURAL.value,)
        return self.filtering_types
