"""The review buttons of a sample row (accept, reject, edit, its labels), each with its key.

Built in Python like the rows themselves (rows.py); the keys are those of the keyboard
review shared with the inference history (static/seedbed/review-keys.js).
"""

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


def label_buttons(sample: Sample, prefix: str, choices: LabelChoices) -> str:
    """One button per label, pressed when the sample carries it; the first nine have the
    keys 1–9. Labels come from a spec or a file: escaped, and sent as JSON in hx-vals."""
    carried = set(sample.labels if isinstance(sample.labels, list) else [])
    buttons = []
    for number, label in enumerate(choices.labels, 1):
        pressed = label in carried
        outline, aria = ("", ' aria-pressed="true"') if pressed else (" outline", "")
        key = f' data-key="{number}"' if number <= KEYED_LABELS else ""
        hint = f" <kbd>{number}</kbd>" if number <= KEYED_LABELS else ""
        vals = _esc(json.dumps({"label": label}))
        buttons.append(
            f'<button class="small label-button{outline}"{aria}{key} '
            f'hx-post="{prefix}{sample.pk}/labels/" hx-vals="{vals}" '
            f'hx-target="#sample-{sample.pk}" hx-swap="outerHTML">{_esc(label)}{hint}</button>'
        )
    kind = "Labels (any number)" if choices.multi else "Label"
    return (
        f'<div class="label-buttons" role="group" aria-label="{kind}">'
        f'<small class="muted">{kind}</small>{"".join(buttons)}</div>'
    )
