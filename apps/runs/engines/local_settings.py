"""The local engine's run settings, declared once (see apps/core/options.py)."""

from dataclasses import dataclass

from apps.core.options import option
from apps.runs.models import ExplorationMode, SeedShuffling

MAX_BATCH = 10
MAX_SHOTS = 10
MAX_CONCURRENCY = 64
MAX_EXAMPLES_IN_PROMPT = 50
MIN_SEED, MAX_SEED = -(2**63), 2**63 - 1  # a bigint


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
    # --- quality --------------------------------------------------------------------
    near_duplicate_threshold: int = option(
        90,
        low=50,
        high=100,
        group="quality",
        help="Reject a text this similar (Jaccard %, word 5-grams) to one in the dataset.",
    )
