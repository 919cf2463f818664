"""Usage and cost per stage: what every model call of a run took, rejected work included.

`Run.usage_by_stage` maps a stage (plan, outline, draft, judge, revision) to its calls,
failed calls, tokens, latency, the models that served it and its cost in USD as a decimal
string — or null once a call of the stage was made with a model that has no price on its
provider's page (listed in `unpriced` as [provider id, model]): nothing is priced silently.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from apps.core.pricing import cost, prices_for

from .context import USAGE_KEYS

STAGE_ORDER = ("plan", "outline", "draft", "judge", "revision")


def usage_merge(
    current: Mapping[str, Any], counts: Mapping[tuple[str, int, str], Mapping[str, int]]
) -> dict[str, Any]:
    """`current` with one step's counts added (one price query)."""
    merged: dict[str, Any] = {stage: dict(entry) for stage, entry in current.items()}
    if not counts:
        return merged
    prices = prices_for(provider_ids={provider_id for _, provider_id, _ in counts})
    for (stage, provider_id, model), row in counts.items():
        entry = merged.setdefault(
            stage, {**dict.fromkeys(USAGE_KEYS, 0), "cost": "0", "models": []}
        )
        for key in USAGE_KEYS:
            entry[key] = entry.get(key, 0) + row[key]
        if model not in entry["models"]:
            entry["models"] = [*entry["models"], model]
        if not (row["input_tokens"] or row["output_tokens"]):
            continue
        spent = cost(prices.get((provider_id, model)), row["input_tokens"], row["output_tokens"])
        entry["cost"] = (
            None if spent is None or entry["cost"] is None else str(Decimal(entry["cost"]) + spent)
        )
        if spent is None and [provider_id, model] not in entry.get("unpriced", []):
            # Where its price is set: the provider of the model, whichever role used it.
            entry["unpriced"] = [*entry.get("unpriced", []), [provider_id, model]]
    return merged


def usage_rows(usage: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(stage, entry) in pipeline order, for pages."""
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return sorted(usage.items(), key=lambda item: order.get(item[0], len(order)))


def total_cost(usage: Mapping[str, Any]) -> Decimal | None:
    """The run's cost so far; None if any stage has an unpriced model."""
    total = Decimal(0)
    for entry in usage.values():
        if entry.get("cost") is None:
            return None
        total += Decimal(entry["cost"])
    return total


def token_totals(counts: Mapping[tuple[str, int, str], Mapping[str, int]]) -> tuple[int, int]:
    """(input, output) tokens of one step's calls."""
    return (
        sum(row["input_tokens"] for row in counts.values()),
        sum(row["output_tokens"] for row in counts.values()),
    )
