import factory

from apps.specs.models import Spec, SpecVersion, SpecVersionStatus, TaskType
from tests.factories import ProjectFactory

CLASS_LABELS = ["billing", "bug", "feature_request"]


class SpecFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Spec

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"spec-{n}")
    task_type = TaskType.CLASSIFICATION


class SpecVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SpecVersion

    spec = factory.SubFactory(SpecFactory)
    number = 1
    description = "Support tickets of a SaaS company"
    labels = factory.LazyFunction(lambda: list(CLASS_LABELS))
    requirements = factory.LazyFunction(lambda: ["One or two sentences", "No personal data"])
    seeds = factory.LazyFunction(
        lambda: [
            {"text": "I was charged twice this month.", "label": "billing"},
            {"text": "The export button crashes the app.", "label": "bug"},
            {"text": "Please add dark mode.", "label": "feature_request"},
        ]
    )
    status = SpecVersionStatus.SUCCEEDED


def queued_run(num_samples=20000):
    """A queued classification run in a new project (no worker picks it up in tests)."""
    from apps.runs import services
    from tests.factories import MembershipFactory, ProviderFactory

    membership = MembershipFactory()
    return services.run_create(
        membership=membership,
        spec_version=SpecVersionFactory(spec__project=membership.project),
        provider=ProviderFactory(project=membership.project),
        num_samples=num_samples,
    )


def insert_samples(run, texts: list[str], first_index: int = 0) -> None:
    """Write classification samples into the run's dataset version, as the engine would."""
    from apps.datasets.services import NewSample, samples_insert
    from apps.specs.texts import text_hash

    samples_insert(
        dataset_id=run.dataset_id,
        version=run.dataset_version,
        run_id=run.pk,
        samples=[
            NewSample(
                payload={"text": text, "label": "bug"},
                text=text,
                text_hash=text_hash(text),
                labels=["bug"],
                lineage={"run_id": run.pk},
                index=first_index + i,
            )
            for i, text in enumerate(texts)
        ],
    )


def created_run(setup, num_samples: int, concurrency: int = 4):
    """A run of classification samples, batch size 5, from the `setup` fixture's spec."""
    from apps.runs import services

    membership, provider, version = setup
    return services.run_create(
        membership=membership,
        spec_version=version,
        provider=provider,
        num_samples=num_samples,
        batch_size=5,
        concurrency=concurrency,
    )


def step(run, step: int | None = None):
    """Run one step of the run in this process (what a worker does); its outcome."""
    from apps.core.jobs import job_step
    from apps.runs.models import Run

    if step is None:
        step = Run.objects.values_list("steps_done", flat=True).get(pk=run.pk)
    return job_step(kind_name="run", pk=run.pk, step=step)


def drive(run, max_chunks: int = 50):
    """Run steps in this process until the run ends (what the worker does)."""
    for _ in range(max_chunks):
        run.refresh_from_db()
        if run.is_finished:
            break
        step(run)
    run.refresh_from_db()
    return run
