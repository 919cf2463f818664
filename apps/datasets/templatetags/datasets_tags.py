"""Template helpers of the dataset pages; sample rows themselves are built in rows.py."""

import json
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from apps.datasets import rows, selectors, selectors_review
from apps.specs.models import TaskType

register = template.Library()


def _prefix(context: template.Context) -> str:
    cache = context.render_context
    if "samples_prefix" not in cache:
        cache["samples_prefix"] = rows.samples_prefix()
    return cache["samples_prefix"]


def _can_edit(context: template.Context) -> bool:
    membership = context.get("membership")
    return bool(membership and membership.can_edit)


def _field_order(context: template.Context) -> list[str]:
    cache = context.render_context
    if "field_order" not in cache:
        cache["field_order"] = selectors.field_order(context["dataset"])
    return cache["field_order"]


def _label_choices(
    context: template.Context, samples: Any
) -> dict[int, selectors_review.LabelChoices]:
    return selectors_review.label_choices(context["dataset"], list(samples))


def _row_options(context: template.Context) -> rows.RowOptions:
    cache = context.render_context
    if "row_options" not in cache:
        cache["row_options"] = rows.RowOptions(
            task_type=context["dataset"].task_type,
            can_edit=_can_edit(context),
            prefix=_prefix(context),
            field_order=_field_order(context),
            compact=bool(context.get("compact")),
        )
    return cache["row_options"]


@register.simple_tag(takes_context=True)
def sample_row(context: template.Context, sample: Any, error: str = "") -> SafeString:
    options = _row_options(context)
    choices = _label_choices(context, [sample]) if options.can_edit else {}
    return rows.sample_row(sample, options, choices.get(sample.pk), error)


@register.simple_tag(takes_context=True)
def sample_rows(context: template.Context, samples: Any) -> SafeString:
    """All rows of a page in one tag (a template loop per row costs more than the query)."""
    options = _row_options(context)
    choices = _label_choices(context, samples) if options.can_edit else {}
    html = "".join(rows.sample_row(s, options, choices.get(s.pk)) for s in samples)
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
def duration(seconds: float | None) -> str:
    """A span of time as people say it: 45 s, 3 min 20 s, 12 min, 1 h 5 min."""
    if seconds is None:
        return "—"
    rest = round(seconds)
    if rest < 60:
        return f"{rest} s"
    minutes, rest = divmod(rest, 60)
    if minutes < 10 and rest:
        return f"{minutes} min {rest} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def rate(per_second: float | None) -> str:
    """A rate as people read it: 2.3/s, or per minute or hour when slower (3.0/min)."""
    if not per_second:
        return "—"
    for factor, unit in ((1, "s"), (60, "min")):
        if per_second * factor >= 1:
            return f"{per_second * factor:.1f}/{unit}"
    return f"{per_second * 3600:.1f}/h"


@register.filter
def as_json(value: Any) -> str:
    """A stored payload as JSON (not Python's repr); escaped like any other text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@register.filter
def task_name(task_type: str) -> str:
    """A dataset's task type as the pages name it ("ner" → "Named-entity recognition")."""
    return str(TaskType(task_type).label) if task_type in TaskType.values else task_type


@register.filter
def filesize(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
