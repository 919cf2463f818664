"""What a call costs, from a model's price and the tokens it used.

Nothing is priced silently: there is no built-in price table. A model is priced only when
someone set its price on the provider (`ModelPrice`), and a call to a model without a
price has an unknown cost (None), never 0, so a total over calls is unknown as soon as
one of them is.

Thinking tokens are billed as output tokens. Both APIs already count them in the output:
Anthropic's `usage.output_tokens` and OpenAI's `usage.completion_tokens` include the
thinking (reasoning) tokens, so pass the output count the provider reports as it is;
adding the thinking tokens again would bill them twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MILLION = Decimal(1_000_000)

# Dollars per million tokens, as ModelPrice stores them (numeric(9, 4)). 10,000 is far
# above any real price and far below what the column holds.
PRICE_MAX = 10_000
PRICE_DECIMAL_PLACES = 4
PRICE_MAX_DIGITS = 9


def price_messages(label: str) -> dict[str, Any]:
    """Errors for a bad price, by the codes Django's and DRF's decimal fields use: each
    names the field (`label`) and the limit it breaks."""
    too_big = f"{label} is at most {PRICE_MAX:,} dollars per million tokens."
    return {
        "required": f"{label} is required; give 0 for a free model.",
        "null": f"{label} is required; give 0 for a free model.",
        "invalid": f"{label} must be a number of dollars per million tokens, e.g. 3 or 0.25.",
        "min_value": f"{label} cannot be negative: give 0 to {PRICE_MAX:,}.",
        "max_value": too_big,
        "max_digits": too_big,
        "max_whole_digits": too_big,
        "max_string_length": too_big,
        "max_decimal_places": f"{label} has at most {PRICE_DECIMAL_PLACES} decimal places.",
    }


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens of one model."""

    input_per_million: Decimal
    output_per_million: Decimal


def cost(price: Price | None, input_tokens: int, output_tokens: int) -> Decimal | None:
    """Dollars for `input_tokens` in and `output_tokens` out (thinking included), exact;
    None when the model has no price."""
    if price is None:
        return None
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("Token counts cannot be negative.")
    total = input_tokens * price.input_per_million + output_tokens * price.output_per_million
    return total / MILLION


def total_cost(costs: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of calls' costs: unknown (None) when any of them is."""
    total = Decimal(0)
    for one in costs:
        if one is None:
            return None
        total += one
    return total


def price_text(amount: Decimal) -> str:
    """Dollars for people: at least 2 decimal places, more only when they count."""
    plain = amount.normalize()
    exponent = plain.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return f"{plain:,f}"
    return f"{amount:,.2f}"


def price_input_text(amount: Decimal) -> str:
    """A price as typed back into a form field: no grouping, no trailing zeros."""
    return f"{amount.normalize():f}"


def prices_for(*, provider_ids: Iterable[int]) -> dict[tuple[int, str], Price]:
    """The prices of these providers' models, by (provider id, model name): one query.
    (`apps.core.selectors.prices_for`, here for the engine's convenience.)"""
    from .selectors import prices_for as select

    return select(provider_ids=provider_ids)
