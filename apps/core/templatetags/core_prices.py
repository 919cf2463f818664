"""`{{ amount|price }}`: dollars per million tokens as people read them (3.00, 0.0375)."""

from decimal import Decimal

from django import template

from apps.core.pricing import price_text

register = template.Library()


@register.filter
def price(amount: Decimal | None) -> str:
    return "no price set" if amount is None else price_text(amount)
