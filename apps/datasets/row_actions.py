"""The review buttons of a sample row (accept, reject, edit), each with its key.

Built in Python like the rows themselves (rows.py); the keys are those of the keyboard
review shared with the inference history (static/seedbed/review-keys.js).
"""

from .models import ReviewState, Sample


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
