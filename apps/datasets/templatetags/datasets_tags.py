"""Template helpers of the dataset pages; sample rows themselves are built in rows.py."""

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from apps.datasets import rows

register = template.Library()


def _prefix(context: template.Context) -> str:
    cache = context.render_context
    if "samples_prefix" not in cache:
        cache["samples_prefix"] = rows.samples_prefix()
    return cache["samples_prefix"]


def _can_edit(context: template.Context) -> bool:
    membership = context.get("membership")
    return bool(membership and membership.can_edit)


@register.simple_tag(takes_context=True)
def sample_row(context: template.Context, sample: Any) -> SafeString:
    dataset = context["dataset"]
    return rows.sample_row(sample, dataset.task_type, _can_edit(context), _prefix(context))


@register.simple_tag(takes_context=True)
def sample_rows(context: template.Context, samples: Any) -> SafeString:
    """All rows of a page in one tag (a template loop per row costs more than the query)."""
    task_type, can_edit, prefix = context["dataset"].task_type, _can_edit(context), _prefix(context)
    html = "".join(rows.sample_row(s, task_type, can_edit, prefix) for s in samples)
    return mark_safe(html)  # noqa: S308 - each row is built with format_html


@register.simple_tag
def label_chip(label: str) -> SafeString:
    return rows.label_chip(label)


@register.filter
def label_hue(label: str) -> int:
    return rows.label_hue(label)


@register.filter
def thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@register.filter
def filesize(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
