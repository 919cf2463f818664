"""Reads of the dataset page's review: the label buttons of a page of samples, and the
review progress of a version.

Like selectors.py, every function takes the caller's dataset (already checked against the
user's project), so tenancy stays in one place.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from apps.specs.models import TaskType

from .models import Dataset, Sample
from .selectors import label_distribution, version_rows, version_size

KEYED_LABELS = 9  # the keys 1–9


@dataclass(frozen=True)
class LabelChoices:
    """The labels a sample may carry, in the spec's order, and whether it takes several."""

    labels: tuple[str, ...]
    multi: bool


def _is_multi(sample: Sample) -> bool:
    payload = sample.payload if isinstance(sample.payload, dict) else {}
    return "labels" in payload and "label" not in payload


def label_choices(dataset: Dataset, samples: Sequence[Sample]) -> dict[int, LabelChoices]:
    """Each classification sample's label buttons: its run's spec labels (what an edit is
    checked against), else the labels the dataset uses, sorted. One query per page."""
    if dataset.task_type != TaskType.CLASSIFICATION or not samples:
        return {}
    from apps.runs.models import Run

    run_ids = {s.run_id for s in samples if s.run_id}
    by_run = {
        run_id: tuple(labels)
        for run_id, labels in Run.objects.filter(pk__in=run_ids, dataset=dataset).values_list(
            "pk", "spec_version__labels"
        )
        if labels
    }
    fallback: tuple[str, ...] | None = None
    choices = {}
    for sample in samples:
        labels = by_run.get(sample.run_id) if sample.run_id else None
        if labels is None:
            if fallback is None:
                fallback = tuple(sorted(label for label, _ in label_distribution(dataset)))
            labels = fallback
        choices[sample.pk] = LabelChoices(labels=labels, multi=_is_multi(sample))
    return choices


@dataclass(frozen=True)
class ReviewProgress:
    total: int
    accepted: int
    rejected: int
    edited: int

    @property
    def reviewed(self) -> int:
        return self.accepted + self.rejected + self.edited


def review_progress(dataset: Dataset, version: int, total: int | None = None) -> ReviewProgress:
    """How much of version n (versions 1..n) is reviewed, from the counters every review
    keeps per version: no sample is read. `total` is the version's size if known."""
    rows = [v for v in version_rows(dataset) if v.number <= version]
    return ReviewProgress(
        total=version_size(dataset, version) if total is None else total,
        accepted=sum(v.accepted_count for v in rows),
        rejected=sum(v.rejected_count for v in rows),
        edited=sum(v.edited_count for v in rows),
    )
