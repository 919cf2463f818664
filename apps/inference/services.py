"""Writes of the inference history: feedback on calls (aliases live in aliases.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from . import outputs
from .models import Feedback, Inference, Verdict


@transaction.atomic
def inference_feedback(
    *,
    project: Any,
    inference: Inference,
    verdict: str,
    corrected_output: Any = None,
    user: Any = None,
    api_key: Any = None,
) -> Feedback:
    """Record a verdict; the last one is copied onto the inference, earlier ones stay.

    `incorrect` needs a `corrected_output` in the task's output shape (see outputs.py),
    using only the labels the call's own schema asked for; `correct` takes none. Raises
    ValidationError naming the field.
    """
    if inference.project_id != project.pk:
        raise ValidationError({"inference": "This inference belongs to another project."})
    if verdict not in Verdict.values:
        raise ValidationError({"verdict": f"verdict must be one of {', '.join(Verdict.values)}."})
    if inference.status == "error":
        raise ValidationError(
            {
                "verdict": f"Call #{inference.pk} failed (HTTP {inference.http_status}): "
                "it has no answer to judge."
            }
        )
    if verdict == Verdict.CORRECT:
        if corrected_output is not None:
            raise ValidationError(
                {"corrected_output": "Only an 'incorrect' verdict takes a corrected_output."}
            )
        clean = None
    else:
        if corrected_output is None:
            raise ValidationError(
                {"corrected_output": "An 'incorrect' verdict needs the corrected_output."}
            )
        clean = outputs.output_validate(
            inference.task,
            corrected_output,
            text=inference.input_text,
            spec=outputs.asked_spec(inference.request),
        )
    feedback = Feedback.objects.create(
        inference=inference,
        verdict=verdict,
        corrected_output=clean,
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        api_key=api_key,
    )
    Inference.objects.filter(pk=inference.pk).update(verdict=verdict, corrected_output=clean)
    inference.verdict = verdict
    inference.corrected_output = clean
    return feedback
