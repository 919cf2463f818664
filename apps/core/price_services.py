"""Writes for the prices of a provider's models (reads: `selectors.price_list`,
`selectors.prices_for`; what a call costs: `pricing.cost`)."""

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .inputs import InputError, check_storable
from .models import Membership, ModelPrice, Provider
from .pricing import PRICE_DECIMAL_PLACES, PRICE_MAX, price_messages
from .services import require_editor

MAX_PRICES = 1000  # per provider
PRICE_LABELS = {"input_per_million": "Input price", "output_per_million": "Output price"}


def _price_value(value: Any, field: str) -> Decimal:
    """A price as stored, or ValidationError naming `field` and the limit it breaks."""
    messages = price_messages(PRICE_LABELS[field])
    if value is None or value == "":
        raise ValidationError({field: messages["required"]})
    if isinstance(value, bool):
        raise ValidationError({field: messages["invalid"]})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({field: messages["invalid"]}) from None
    if not number.is_finite():
        raise ValidationError({field: messages["invalid"]})
    if number < 0:
        raise ValidationError({field: messages["min_value"]})
    if number > PRICE_MAX:
        raise ValidationError({field: messages["max_value"]})
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > PRICE_DECIMAL_PLACES:
        raise ValidationError({field: messages["max_decimal_places"]})
    return number


def _price_model(provider: Provider, model: Any) -> str:
    """The name the provider knows the model by (`vllm/x` is `x` for provider vllm)."""
    name = provider.own_model_name(model) if isinstance(model, str) else ""
    if not name:
        raise ValidationError({"model": "Give the model's name, e.g. gpt-4o-mini."})
    if len(name) > 200:
        raise ValidationError({"model": "A model name is at most 200 characters."})
    try:
        check_storable(name, "model")
    except InputError as exc:
        raise ValidationError({"model": exc.message}) from None
    return name


def _require_own(membership: Membership, provider: Provider) -> None:
    require_editor(membership)
    if provider.project_id != membership.project_id:
        raise PermissionDenied("The provider belongs to another project.")


def model_price_set(
    *,
    membership: Membership,
    provider: Provider,
    model: str,
    input_per_million: Any,
    output_per_million: Any,
) -> ModelPrice:
    """Add or change what a model of the provider costs, in dollars per million tokens."""
    _require_own(membership, provider)
    name = _price_model(provider, model)
    values = {
        "input_per_million": _price_value(input_per_million, "input_per_million"),
        "output_per_million": _price_value(output_per_million, "output_per_million"),
    }
    with transaction.atomic():
        # The provider row is locked: concurrent writers cannot pass MAX_PRICES together.
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        prices = ModelPrice.objects.filter(provider=provider)
        row = prices.filter(model=name).first()
        if row is None:
            if prices.count() >= MAX_PRICES:
                raise ValidationError(
                    {"model": f"A provider has at most {MAX_PRICES:,} priced models."}
                )
            return ModelPrice.objects.create(provider=provider, model=name, **values)
        if (row.input_per_million, row.output_per_million) != tuple(values.values()):
            for field, value in values.items():
                setattr(row, field, value)
            row.save()
        return row


def model_price_delete(*, membership: Membership, provider: Provider, model: str) -> bool:
    """Remove a model's price (its calls' cost becomes unknown); False when it had none."""
    _require_own(membership, provider)
    name = provider.own_model_name(model)
    try:
        check_storable(name)
    except InputError:
        return False  # nothing stored can have that name
    deleted, _ = ModelPrice.objects.filter(provider=provider, model=name).delete()
    return bool(deleted)


def model_prices_replace(
    *, membership: Membership, provider: Provider, prices: Iterable[Mapping[str, Any]]
) -> list[ModelPrice]:
    """Make the provider's prices exactly `prices` ({model, input_per_million,
    output_per_million} each): missing models lose their price. A price that stays the
    same keeps its `updated_at`."""
    _require_own(membership, provider)
    wanted: dict[str, dict[str, Decimal]] = {}
    for n, item in enumerate(prices):
        try:
            name = _price_model(provider, item.get("model"))
            values = {f: _price_value(item.get(f), f) for f in PRICE_LABELS}
        except ValidationError as exc:
            raise ValidationError({"prices": [f"Item {n}: {m}" for m in exc.messages]}) from None
        if name in wanted:
            raise ValidationError({"prices": [f"Item {n}: {name!r} is listed twice."]})
        wanted[name] = values
    if len(wanted) > MAX_PRICES:
        raise ValidationError({"prices": [f"A provider has at most {MAX_PRICES:,} priced models."]})
    with transaction.atomic():
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        existing = {row.model: row for row in ModelPrice.objects.filter(provider=provider)}
        ModelPrice.objects.filter(provider=provider).exclude(model__in=list(wanted)).delete()
        for name, values in wanted.items():
            row = existing.get(name)
            if row is None:
                ModelPrice.objects.create(provider=provider, model=name, **values)
            elif (row.input_per_million, row.output_per_million) != tuple(values.values()):
                ModelPrice.objects.filter(pk=row.pk).update(**values, updated_at=timezone.now())
    return list(ModelPrice.objects.filter(provider=provider).order_by("model"))
