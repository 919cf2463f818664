from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.core import tasks as core_tasks
from apps.core.jobs import job_requeue_stale
from apps.core.models import Role
from apps.specs import selectors, services
from apps.specs.models import Spec, SpecCheck, SpecVersion, SpecVersionStatus
from tests.factories import MembershipFactory
from tests.specs.helpers import SEEDS, latest, make_spec, run_check

pytestmark = pytest.mark.django_db


def test_create_makes_pending_v1_and_sends_its_check_on_commit(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list = []
    monkeypatch.setattr(
        core_tasks.job_step_task, "apply_async", lambda args, **options: sent.append(args)
    )
    with django_capture_on_commit_callbacks(execute=True):
        spec = make_spec(owner)
    version = latest(spec)
    assert (version.number, version.status, version.checked_at) == (1, "PENDING", None)
    check = version.check_job
    assert check.status == "QUEUED"
    assert sent == [("spec_check", check.pk, 0)]  # keys only, never the row


def test_check_job_succeeds_and_a_redelivery_changes_nothing(owner):
    version = latest(make_spec(owner))
    assert run_check(version).kind == "done"
    version.refresh_from_db()
    assert version.status == SpecVersionStatus.SUCCEEDED
    assert version.errors == []
    check = version.check_job
    check.refresh_from_db()
    assert (check.status, check.steps_done) == ("SUCCEEDED", 1)
    checked_at = version.checked_at
    assert checked_at is not None
    assert run_check(version) is None  # redelivered: nothing changes
    version.refresh_from_db()
    assert version.checked_at == checked_at


def test_a_check_whose_message_was_lost_is_sent_again_by_the_reaper(owner, settings):
    version = latest(make_spec(owner))  # no commit here: its message is never sent
    assert job_requeue_stale(kind_name="spec_check") == []  # not stale yet
    stale = timezone.now() - timedelta(seconds=settings.RUN_STALE_SECONDS + 1)
    SpecCheck.objects.filter(pk=version.check_job.pk).update(heartbeat_at=stale)
    assert job_requeue_stale(kind_name="spec_check") == [version.check_job.pk]
    run_check(version)
    version.refresh_from_db()
    assert version.status == SpecVersionStatus.SUCCEEDED


def test_a_crashing_check_fails_the_version_with_a_message(owner, monkeypatch):
    version = latest(make_spec(owner))

    def crash(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services.checks, "version_problems", crash)
    run_check(version)
    version.refresh_from_db()
    assert version.status == SpecVersionStatus.FAILED
    assert version.errors == [
        "The check could not finish (an internal error). Save a new version to retry."
    ]


def test_check_fails_with_every_reason(owner):
    spec = make_spec(
        owner,
        description="  ",
        labels=["billing", "billing"],
        seeds=[{"text": "hi", "label": "billing"}],
    )
    run_check(latest(spec))
    version = latest(spec)
    assert version.status == SpecVersionStatus.FAILED
    assert any(e.startswith("Description is empty") for e in version.errors)
    assert any("repeated: billing" in e for e in version.errors)


def test_check_reports_seeds_by_number(owner):
    seeds = [*SEEDS, {"text": "Cancel my plan", "label": "churn"}]
    spec = make_spec(owner, seeds=seeds)
    version = services.spec_version_check(version=latest(spec))
    assert version.status == SpecVersionStatus.FAILED
    (error,) = version.errors
    assert error.startswith("Seed 4: Label not in the spec: label 'churn'")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"labels": []}, "needs at least 1 label"),
        ({"task_type": "ner", "labels": [], "seeds": []}, "an NER spec needs at least 1 label"),
        ({"task_type": "custom", "labels": [], "seeds": []}, "give a JSON schema"),
        (
            {"task_type": "custom", "seeds": [], "custom_schema": {"type": "objekt"}},
            "not a valid JSON Schema",
        ),
        ({"task_type": "custom", "seeds": [], "custom_schema": {"type": "array"}}, "an object"),
    ],
)
def test_check_semantic_failures(owner, overrides, expected):
    version = services.spec_version_check(version=latest(make_spec(owner, **overrides)))
    assert version.status == SpecVersionStatus.FAILED
    assert any(expected in e for e in version.errors), version.errors


def test_custom_spec_with_schema_succeeds(owner):
    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    spec = make_spec(
        owner, task_type="custom", labels=[], seeds=[{"q": "why"}], custom_schema=schema
    )
    assert services.spec_version_check(version=latest(spec)).status == "SUCCEEDED"


def test_check_limits_on_versions_made_elsewhere(owner):
    # The admin or a future import path could store what the services refuse.
    spec = make_spec(owner)
    version = SpecVersion.objects.create(
        spec=spec,
        number=2,
        description="x",
        labels=[f"l{i}" for i in range(201)],
        requirements=["r"] * 51,
    )
    errors = services.spec_version_check(version=version).errors
    assert any("at most 200 labels (this version has 201)" in e for e in errors)
    assert any("Requirements: at most 50 (this version has 51)" in e for e in errors)


def test_edit_creates_v2_and_v1_is_unchanged(owner):
    spec = make_spec(owner)
    v1 = latest(spec)
    services.spec_version_check(version=v1)
    v2 = services.spec_version_create(
        membership=owner, spec=spec, labels=["billing", "technical_issue", "account_access", "x"]
    )
    assert v2.number == 2 and v2.status == SpecVersionStatus.PENDING
    # Unspecified fields are copied from the latest version.
    assert v2.seeds == SEEDS and v2.description == v1.description
    assert v2.requirements == v1.requirements
    v1_again = SpecVersion.objects.get(pk=v1.pk)
    assert v1_again.labels == ["billing", "technical_issue", "account_access"]
    assert v1_again.status == SpecVersionStatus.SUCCEEDED
    v3 = services.spec_version_create(membership=owner, spec=spec, description="New domain")
    assert v3.number == 3 and v3.labels == v2.labels
    assert selectors.spec_version_latest(spec).number == 3  # type: ignore[union-attr]


def test_failed_version_is_rejected_for_runs(owner):
    spec = make_spec(owner, name="Tickets", seeds=[{"text": "x", "label": "nope"}])
    version = services.spec_version_check(version=latest(spec))
    assert version.status == "FAILED"
    with pytest.raises(ValidationError) as exc:
        services.spec_version_require_succeeded(version)
    assert exc.value.message_dict == {
        "spec_version": [
            "Spec 'Tickets' version 1 is FAILED; only a SUCCEEDED version can be used."
        ]
    }
    pending = services.spec_version_create(membership=owner, spec=spec, seeds=SEEDS)
    with pytest.raises(ValidationError, match="version 2 is PENDING"):
        services.spec_version_require_succeeded(pending)
    services.spec_version_require_succeeded(services.spec_version_check(version=pending))
    assert selectors.spec_version_latest_succeeded(spec) == pending


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"name": "  "}, "name", "A spec needs a name."),
        ({"name": "x" * 121}, "name", "At most 120 characters"),
        ({"task_type": "summarisation"}, "task_type", "'summarisation' is not a task type"),
        ({"labels": [f"l{i}" for i in range(201)]}, "labels", "At most 200 labels (got 201)"),
        ({"labels": ["x" * 101]}, "labels", "at most 100 characters"),
        ({"requirements": ["r"] * 51}, "requirements", "At most 50 requirements (got 51)"),
        ({"seeds": [{"text": "a"}] * 1001}, "seeds", "At most 1,000 seeds (got 1,001)"),
        ({"seeds": [{"text": "a"}, "b"]}, "seeds", "Seed 2 is not a JSON object."),
        ({"custom_schema": {"type": "object"}}, "custom_schema", "Only custom specs"),
    ],
)
def test_submit_time_errors_store_nothing(owner, overrides, field, expected):
    with pytest.raises(ValidationError) as exc:
        make_spec(owner, **overrides)
    assert expected in " ".join(exc.value.message_dict[field])
    assert not Spec.objects.exists()


def test_name_is_unique_per_project(owner):
    make_spec(owner, name="Tickets")
    with pytest.raises(ValidationError, match="already exists"):
        make_spec(owner, name="Tickets")
    make_spec(MembershipFactory(), name="Tickets")  # another project may use it


def test_viewers_cannot_create_or_edit(owner):
    spec = make_spec(owner)
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        make_spec(viewer, name="Other")
    with pytest.raises(PermissionDenied):
        services.spec_version_create(membership=viewer, spec=spec, description="x")
    assert SpecVersion.objects.count() == 1


def test_selectors_are_scoped_to_the_project(owner):
    from django.http import Http404

    spec = make_spec(owner)
    other = MembershipFactory()
    with pytest.raises(Http404):
        selectors.spec_get(other.project, spec.pk)
    with pytest.raises(Http404):
        selectors.spec_version_get(other.project, latest(spec).pk)
    assert selectors.spec_version_get(owner.project, latest(spec).pk).number == 1
    assert list(selectors.spec_list(other.project)) == []
    listed = selectors.spec_list(owner.project).get()
    assert (listed.latest_number, listed.latest_status) == (1, "PENDING")  # type: ignore[attr-defined]


def test_label_counts(owner):
    seeds = [*SEEDS, {"text": "Refund please", "label": "billing"}, {"text": "?", "label": "zzz"}]
    counts = selectors.label_counts(latest(make_spec(owner, seeds=seeds)))
    assert [(c.label, c.count, c.in_spec) for c in counts] == [
        ("billing", 2, True),
        ("technical_issue", 1, True),
        ("account_access", 1, True),
        ("zzz", 1, False),
    ]
    ner = make_spec(
        owner,
        name="People",
        task_type="ner",
        labels=["person", "place"],
        seeds=[
            {
                "text": "Ada and Bob in Paris",
                "entities": [
                    {"text": "Ada", "label": "person"},
                    {"text": "Bob", "label": "person"},
                ],
            }
        ],
    )
    assert [(c.label, c.count) for c in selectors.label_counts(latest(ner))] == [
        ("person", 2),
        ("place", 0),
    ]
