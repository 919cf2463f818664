"""HTML of one sample row, built in Python.

A page shows 50 rows; rendering them through template tags (a URL reverse, number
localisation and a dozen lookups per row) cost more than the database query, so rows are
assembled here. Every piece of sample content goes through `format_html` or `escape`:
it came from an LLM or an upload and is never trusted.
"""

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape as _esc
from typing import Any

from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import ReviewState, Sample
from .row_actions import label_buttons, row_actions
from .selectors_review import LabelChoices

STATE_LABELS = dict(ReviewState.choices)


def samples_prefix() -> str:
    """'/datasets/samples/': sample URLs are this plus '<id>/…' (one reverse per page)."""
    return reverse("sample_row", args=[0]).removesuffix("0/")


def label_hue(label: str) -> int:
    """A stable colour per label, so one label looks the same on every page."""
    return int(hashlib.md5(label.encode(), usedforsecurity=False).hexdigest()[:4], 16) % 360


def label_chip(label: str) -> SafeString:
    html = f'<span class="label-chip" style="--label-hue: {label_hue(label)}">{_esc(label)}</span>'
    return mark_safe(html)  # noqa: S308 - the label is escaped, the hue is an int


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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _fields(pairs: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in pairs if v)
    return f'<dl class="sample-fields">{items}</dl>'


def sample_body(sample: Sample, task_type: str, field_order: Sequence[str] = ()) -> str:
    """The escaped HTML of a sample's content."""
    payload = sample.payload if isinstance(sample.payload, dict) else {}
    if task_type == "ner":
        text = highlight_entities(sample.text, payload.get("entities"))
        body = f'<p class="sample-text">{text}</p>'
    elif task_type == "decoder":
        keys = ("instruction", "input", "response")
        body = _fields((k.title(), _text(payload.get(k, ""))) for k in keys)
    elif task_type == "custom" and payload:
        body = _fields((k, _text(v)) for k, v in selectors.in_field_order(payload, field_order))
    elif task_type == "conversation" and isinstance(payload.get("conv_prefix"), list):
        messages = [*payload["conv_prefix"], payload.get("response") or {}]
        lines = "".join(
            f'<p class="message-line"><b>{_esc(_text(m.get("role", "")))}</b> '
            f"{_esc(_text(m.get('content', '')))}</p>"
            for m in messages
            if isinstance(m, dict)
        )
        body = f'<div class="sample-text">{lines}</div>'
    else:
        body = f'<p class="sample-text">{_esc(sample.text)}</p>'
    labels = sample.labels if isinstance(sample.labels, list) else []
    if labels:
        chips = "".join(label_chip(_text(label)) for label in labels)
        body += f'<p class="sample-labels">{chips}</p>'
    original = (sample.lineage or {}).get("original")
    if original is not None:
        seed = _esc(json.dumps(original, indent=2, ensure_ascii=False))
        body += (
            f'<details class="original"><summary>Seed original</summary><pre>{seed}</pre></details>'
        )
    return body


def _meta(sample: Sample) -> str:
    lineage = sample.lineage if isinstance(sample.lineage, dict) else {}
    parts = [f"v{sample.version}"]
    if sample.run_id:
        parts.append(f"run {sample.run_id}")
    if lineage.get("model"):
        parts.append(str(lineage["model"]))
    return " · ".join(parts)


@functools.cache
def _source_urls() -> tuple[str, str]:
    return reverse("inference_home"), reverse("labelling_job", args=[0]).removesuffix("0/")


def _source(sample: Sample) -> str:
    """Where a sample came from when it was not generated by a run, as escaped HTML: the
    file and line of an import, the inference call (and labelling job) it was made from."""
    lineage = sample.lineage if isinstance(sample.lineage, dict) else {}
    calls, jobs = _source_urls()
    parts = []
    if lineage.get("source") == "import" and lineage.get("file"):
        parts.append(f"from {_esc(str(lineage['file']))} line {int(lineage.get('line') or 0)}")
    if isinstance(lineage.get("labelling_job_id"), int):
        job = lineage["labelling_job_id"]
        parts.append(f'<a href="{jobs}{job}/">labelling job #{job}</a>')
    if isinstance(lineage.get("inference_id"), int):
        call = lineage["inference_id"]
        corrected = " (corrected)" if lineage.get("corrected") else ""
        parts.append(f'<a href="{calls}?call={call}">call #{call}</a>{corrected}')
    return f'<span class="sample-source muted">{" · ".join(parts)}</span>' if parts else ""


@dataclass(frozen=True)
class RowOptions:
    """What every row of one page shares."""

    task_type: str
    can_edit: bool
    prefix: str
    field_order: Sequence[str] = ()
    compact: bool = False  # the table view: one line each, the rest behind <details>


def sample_row(
    sample: Sample, options: RowOptions, choices: LabelChoices | None = None, error: str = ""
) -> SafeString:
    """One row. Only `_meta` and `sample_body` carry sample content, and both are escaped;
    the rest is ids, fixed words, the URL prefix and (escaped) labels. The data-* attributes
    are what the keyboard review (static/seedbed/dataset-review.js) reads and undoes."""
    pk, state, prefix = int(sample.pk), _esc(sample.review_state), _esc(options.prefix)
    actions = ""
    if options.can_edit:
        actions = label_buttons(sample, prefix, choices) if choices and choices.labels else ""
        actions += row_actions(sample, prefix)
    if error:
        actions += f'<small class="error row-error" role="alert">{_esc(error)}</small>'
    labels = _esc(json.dumps(sample.labels if isinstance(sample.labels, list) else []))
    body = sample_body(sample, options.task_type, options.field_order)
    badge = (
        f'<span class="review-badge {state}">'
        f"{_esc(STATE_LABELS.get(sample.review_state, sample.review_state))}</span>"
    )
    trail = (
        f'<a class="trail-link" href="{prefix}{pk}/lineage/" title="Where this sample came from '
        f'and every step that made it">Trail</a>'
        f'<span class="muted">{_esc(_meta(sample))}</span>{_source(sample)}'
    )
    # htmx ignores everything inside hx-disable: the content is untrusted.
    if options.compact:
        content = (
            f'<details class="sample-line"><summary><span class="sample-id">#{pk}</span>{badge}'
            f'<span class="sample-preview" hx-disable>{_esc(_preview(sample.text))}</span>'
            f'</summary><div class="sample-head">{trail}</div>'
            f'<div class="sample-body" hx-disable>{body}</div></details>'
        )
    else:
        content = (
            f'<div class="sample-head"><span class="sample-id">#{pk}</span>{trail}{badge}</div>'
            f'<div class="sample-body" hx-disable>{body}</div>'
        )
    compact = " compact" if options.compact else ""
    html = (
        f'<article class="sample{compact} state-{state}" id="sample-{pk}" data-state="{state}" '
        f'data-url="{prefix}{pk}/" data-labels="{labels}">{content}{actions}</article>'
    )
    return mark_safe(html)  # noqa: S308 - built from escaped pieces only


def _preview(text: str, size: int = 160) -> str:
    """The start of a sample's text on one line (the table view); escaped by the caller."""
    line = " ".join(text.split())
    return line if len(line) <= size else line[: size - 1] + "…"
