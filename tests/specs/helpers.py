"""Specs made through the services, as users make them."""

from typing import Any

from apps.core.models import Membership
from apps.specs import services
from apps.specs.models import Spec, SpecVersion

LABELS = ["billing", "technical_issue", "account_access"]
SEEDS = [
    {"text": "I was charged twice for March.", "label": "billing"},
    {"text": "The PDF export button does nothing.", "label": "technical_issue"},
    {"text": "My password reset link expired.", "label": "account_access"},
]


def make_spec(membership: Membership, **overrides: Any) -> Spec:
    fields: dict[str, Any] = {
        "name": "Support intents",
        "task_type": "classification",
        "description": "Support tickets of an invoicing app.",
        "instruction": "",
        "labels": LABELS,
        "multi_label": False,
        "requirements": ["First person", "No personal data"],
        "seeds": SEEDS,
        "custom_schema": None,
    }
    fields.update(overrides)
    return services.spec_create(membership=membership, user=membership.user, **fields)


def latest(spec: Spec) -> SpecVersion:
    return spec.versions.order_by("-number").first()  # type: ignore[return-value]


def run_check(version: SpecVersion) -> Any:
    """Step 0 of the version's check job, as a worker runs it: the outcome, or None when
    the step was not this delivery's to run."""
    from apps.core.jobs import job_step

    return job_step(kind_name="spec_check", pk=version.check_job.pk, step=0)
