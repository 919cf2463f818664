"""Building datasets for tests through the same services runs and imports use."""

from typing import Any

from apps.core.models import Project
from apps.datasets.models import DatasetVersion, VersionSource
from apps.datasets.services import (
    NewSample,
    dataset_version_close,
    dataset_version_create,
    samples_insert,
)
from apps.specs.task_types import SpecContent, check_sample
from apps.specs.texts import text_hash

TOPICS = ["billing", "shipping", "account"]
WORDS = {
    "billing": "I was charged twice for my invoice and want a refund",
    "shipping": "My parcel is late and the courier never delivered the package",
    "account": "I cannot log in to my account since the password reset",
}


def classification(i: int, label: str | None = None) -> dict[str, Any]:
    label = label or TOPICS[i % len(TOPICS)]
    return {"text": f"Ticket {i}: {WORDS.get(label, label)}.", "label": label}


def ner(i: int) -> dict[str, Any]:
    text = f"Alice Smith from Acme Corp visited Paris on day {i}."
    return {
        "text": text,
        "entities": [
            {"text": "Alice Smith", "label": "PERSON"},
            {"text": "Acme Corp", "label": "ORG"},
            {"text": "Paris", "label": "LOC"},
        ],
    }


def add_version(
    project: Project,
    name: str,
    payloads: list[dict[str, Any]],
    task_type: str = "classification",
    close: bool = True,
    run: Any = None,
) -> DatasetVersion:
    """Open a version, insert the payloads (checked like generated samples), close it."""
    version = dataset_version_create(
        project=project,
        name=name,
        task_type=task_type,
        source=VersionSource.RUN if run else VersionSource.IMPORT,
        run=run,
    )
    samples = []
    for i, payload in enumerate(payloads):
        multi = "labels" in payload
        checked = check_sample(payload, SpecContent(task_type=task_type, multi_label=multi))
        assert checked.ok, (payload, checked.detail)
        lineage = {"run_id": run.pk if run else None, "model": "test-model", "provider": "fake"}
        samples.append(
            NewSample(
                payload=checked.payload,
                text=checked.text,
                text_hash=text_hash(checked.text),
                labels=checked.labels,
                lineage=lineage,
                index=i if run else None,
            )
        )
    samples_insert(
        dataset_id=version.dataset_id,
        version=version.number,
        run_id=run.pk if run else None,
        samples=samples,
    )
    if close:
        version = dataset_version_close(dataset_id=version.dataset_id, number=version.number)
    return version


def make_run(project: Project, dataset: Any, number: int, status: str = "SUCCEEDED") -> Any:
    """A bare Run row (no engine involved) so samples can point at it."""
    from apps.runs.models import Run
    from apps.specs.models import Spec, SpecVersion

    spec, _ = Spec.objects.get_or_create(
        project=project, name="spec", defaults={"task_type": dataset.task_type}
    )
    spec_version, _ = SpecVersion.objects.get_or_create(
        spec=spec, number=1, defaults={"description": "tickets", "labels": TOPICS}
    )
    return Run.objects.create(
        project=project,
        spec_version=spec_version,
        model="test-model",
        dataset=dataset,
        dataset_version=number,
        num_samples=10,
        call_budget=10,
        status=status,
    )
