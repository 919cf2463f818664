"""Rendering sample content that came from an LLM or an upload: every piece is escaped."""

import hashlib
import json
from typing import Any

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def label_hue(label: str) -> int:
    """A stable colour per label, so one label looks the same on every page."""
    return int(hashlib.md5(label.encode(), usedforsecurity=False).hexdigest()[:4], 16) % 360


def _spans(text: str, entities: Any) -> list[tuple[int, int, str]]:
    """Well-formed, non-overlapping (start, end, label) spans, in text order."""
    spans = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        start, end, label = entity.get("start"), entity.get("end"), entity.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str)):
            continue
        if 0 <= start < end <= len(text):
            spans.append((start, end, label))
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for span in spans:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


@register.simple_tag
def highlight_entities(text: str, entities: Any) -> SafeString:
    """The text with each entity wrapped in <mark data-label=…>, built from its offsets."""
    pieces: list[str] = []
    position = 0
    for start, end, label in _spans(text, entities):
        pieces.append(escape(text[position:start]))
        pieces.append(
            format_html(
                '<mark data-label="{}" style="--label-hue: {}">{}</mark>',
                label,
                label_hue(label),
                text[start:end],
            )
        )
        position = end
    pieces.append(escape(text[position:]))
    # Each piece above is escaped or built by format_html, so the join is safe.
    return mark_safe("".join(pieces))  # noqa: S308


@register.simple_tag
def label_chip(label: str) -> SafeString:
    return format_html(
        '<span class="label-chip" style="--label-hue: {}">{}</span>', label_hue(label), label
    )


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for the editor textarea (autoescaped by the template)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def percent_of(value: int, total: int) -> int:
    return round(100 * value / total) if total else 0


@register.filter
def thousands(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@register.filter
def filesize(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)
