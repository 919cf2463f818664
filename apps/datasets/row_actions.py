"""The review buttons of a sample row (accept, reject, edit, its labels), each with its key.

Built in Python like the rows themselves (rows.py); the keys are those of the keyboard
review shared with the inference history (static/seedbed/review-keys.js).
"""

import functools
import json
from html import escape as _esc

from .models import ReviewState, Sample
from .selectors_review import KEYED_LABELS, LabelChoices


def _review_button(prefix: str, sample: Sample, state: str, text: str, key: str, style: str) -> str:
    pressed = sample.review_state == state
    outline, aria = ("", ' aria-pressed="true"') if pressed else (" outline", "")
    return (
        f'<button class="small {style}{outline}"{aria} data-key="{key}" '
        f'hx-post="{prefix}{sample.pk}/review/" hx-vals=\'{{"state": "{state}"}}\' '
        f'hx-target="#sample-{sample.pk}" hx-swap="outerHTML">{text} <kbd>{key}</kbd></button>'
    )


def row_actions(sample: Sample, prefix: str) -> str:
    """The buttons of an editor; `prefix` is already escaped."""
    pk = int(sample.pk)
    return (
        '<div class="sample-actions">'
        + _review_button(prefix, sample, ReviewState.ACCEPTED, "Accept", "a", "")
        + _review_button(prefix, sample, ReviewState.REJECTED, "Reject", "r", "secondary")
        + f'<button class="small outline contrast" data-key="e" hx-get="{prefix}{pk}/edit/" '
        f'hx-target="#sample-{pk}" hx-swap="outerHTML">Edit <kbd>e</kbd></button></div>'
    )


@functools.lru_cache(maxsize=64)
def _label_parts(labels: tuple[str, ...]) -> tuple[tuple[str, str, str, str], ...]:
    """Per label, the escaped pieces of its button: built once per label set, not per row
    (a page has 50 rows of the same buttons)."""
    parts = []
    for number, label in enumerate(labels, 1):
        keyed = number <= KEYED_LABELS
        parts.append(
            (
                label,
                f' data-key="{number}"' if keyed else "",
                _esc(json.dumps({"label": label})),
                _esc(label) + (f" <kbd>{number}</kbd>" if keyed else ""),
            )
        )
    return tuple(parts)


def label_buttons(sample: Sample, prefix: str, choices: LabelChoices) -> str:
    """One button per label, pressed when the sample carries it; the first nine have the
    keys 1–9. Labels come from a spec or a file: escaped, and sent as JSON in hx-vals."""
    carried = set(sample.labels if isinstance(sample.labels, list) else [])
    pk = int(sample.pk)
    url = f"{prefix}{pk}/labels/"
    buttons = []
    for label, key, vals, text in _label_parts(choices.labels):
        pressed = label in carried
        outline, aria = ("", ' aria-pressed="true"') if pressed else (" outline", "")
        buttons.append(
            f'<button class="small label-button{outline}"{aria}{key} '
            f'hx-post="{url}" hx-vals="{vals}">{text}</button>'
        )
    kind = "Labels (any number)" if choices.multi else "Label"
    # The buttons inherit the target and swap: a page has hundreds of them.
    return (
        f'<div class="label-buttons" role="group" aria-label="{kind}" '
        f'hx-target="#sample-{pk}" hx-swap="outerHTML">'
        f'<small class="muted">{kind}</small>{"".join(buttons)}</div>'
    )
