"""Reads for datasets and samples; every entry point takes the caller's project.

Browsing must stay flat as a dataset grows to millions of samples: pages are keyset
paginated on -id, every filter has an index, and sizes come from per-version counts taken
once when a version closes, never from COUNT(*) over the dataset.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, QuerySet, Sum
from django.http import Http404

from apps.core.models import Project
from apps.specs.models import SpecVersion, TaskType
from apps.specs.task_types import SpecContent, content_of

from . import browsing
from .models import Dataset, DatasetVersion, ExportJob, Sample

MAX_PAGE = 500


def dataset_list(project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project).order_by("name")


def dataset_get(project: Project, dataset_id: int) -> Dataset:
    try:
        return dataset_list(project).get(pk=dataset_id)
    except Dataset.DoesNotExist as exc:
        raise Http404("No such dataset.") from exc


def dataset_get_by_name(project: Project, name: str) -> Dataset | None:
    return dataset_list(project).filter(name=name.strip()).first()


def field_order(dataset: Dataset, version: int | None = None) -> list[str]:
    """A custom dataset's payload fields in the order they were written: those of the
    newest version (up to `version`) that recorded an order. Other task types: []."""
    if dataset.task_type != TaskType.CUSTOM:
        return []
    orders = (
        DatasetVersion.objects.filter(
            dataset=dataset, number__lte=version or dataset.latest_version
        )
        .order_by("-number")
        .values_list("field_order", flat=True)
    )
    return next((order for order in orders if order), [])


def in_field_order(payload: dict[str, Any], field_order: Sequence[str]) -> list[tuple[str, Any]]:
    """The payload's fields in `field_order`, then any others as stored."""
    rank = {name: n for n, name in enumerate(field_order)}
    return sorted(payload.items(), key=lambda item: rank.get(item[0], len(rank)))


def sample_payloads(dataset: Dataset, limit: int) -> list[Any]:
    """The payloads of the dataset's first samples."""
    return list(
        Sample.objects.filter(dataset=dataset)
        .order_by("id")
        .values_list("payload", flat=True)[:limit]
    )


def sample_get(project: Project, sample_id: int) -> Sample:
    try:
        return Sample.objects.select_related("dataset").get(pk=sample_id, dataset__project=project)
    except Sample.DoesNotExist as exc:
        raise Http404("No such sample.") from exc


def sample_spec_version(project: Project, sample: Sample) -> SpecVersion | None:
    """The spec version a sample's lineage names, if it is still in the project."""
    version_id = (sample.lineage or {}).get("spec_version_id")
    if not isinstance(version_id, int) or isinstance(version_id, bool):
        return None
    return (
        SpecVersion.objects.select_related("spec")
        .filter(pk=version_id, spec__project=project)
        .first()
    )


def export_job_get(project: Project, job_id: int) -> ExportJob:
    try:
        return ExportJob.objects.select_related("dataset").get(pk=job_id, project=project)
    except ExportJob.DoesNotExist as exc:
        raise Http404("No such export.") from exc


def export_job_list(dataset: Dataset, version: int, limit: int = 5) -> list[ExportJob]:
    """The newest export jobs of one version: a page offers only files of what it shows."""
    jobs = ExportJob.objects.filter(dataset=dataset, version=version)
    return list(jobs.order_by("-created_at")[:limit])


def version_missing(dataset: Dataset, version: object) -> str:
    """What to say when asked for a version the dataset does not have."""
    latest = dataset.latest_version
    versions = f"its only version is {latest}" if latest == 1 else f"its versions are 1–{latest}"
    return f"Dataset {dataset.name} has no version {version}; {versions}."


# --- versions and counts ---------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    number: int
    source: str
    source_label: str
    run_id: int | None
    note: str
    created_at: datetime
    added: int
    total: int
    is_open: bool


def open_version_counts(dataset_id: int, numbers: list[int]) -> dict[int, int]:
    """Live counts of open versions; bounded, since a run adds at most 20,000 samples."""
    if not numbers:
        return {}
    rows = (
        Sample.objects.filter(dataset_id=dataset_id, version__in=numbers)
        .values("version")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(numbers, 0)
    counts.update({row["version"]: row["n"] for row in rows})
    return counts


def version_label_counts(dataset_id: int, numbers: list[int]) -> dict[int, dict[str, int]]:
    """Label counts of the samples each given version added (one grouped query)."""
    counts: dict[int, dict[str, int]] = {n: {} for n in numbers}
    if not numbers:
        return counts
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.version, l.label, count(*)
            FROM datasets_sample s, jsonb_array_elements_text(s.labels) AS l(label)
            WHERE s.dataset_id = %s AND s.version = ANY(%s)
            GROUP BY 1, 2
            """,
            [dataset_id, numbers],
        )
        for number, label, n in cursor.fetchall():
            counts[number][label] = n
    return counts


def version_rows(dataset: Dataset) -> list[DatasetVersion]:
    """The dataset's versions in order, with their run's status; one query per instance.

    A page needs them for the version picker, the sizes and the label chart, so they are
    kept on the dataset object for the rest of the request.
    """
    cached: list[DatasetVersion] | None = getattr(dataset, "_version_rows", None)
    if cached is None:
        cached = list(
            DatasetVersion.objects.filter(dataset=dataset)
            .annotate(run_status=F("run__status"))
            .order_by("number")
        )
        dataset._version_rows = cached  # type: ignore[attr-defined]
    return cached


def dataset_versions(dataset: Dataset) -> list[VersionInfo]:
    """Every version, newest first, with what it added and its cumulative size."""
    versions = version_rows(dataset)
    live = open_version_counts(dataset.pk, [v.number for v in versions if v.added_count is None])
    infos, total = [], 0
    for v in versions:
        added = v.added_count if v.added_count is not None else live[v.number]
        total += added
        infos.append(
            VersionInfo(
                number=v.number,
                source=v.source,
                source_label=v.get_source_display(),
                run_id=v.run_id,
                note=v.note,
                created_at=v.created_at,
                added=added,
                total=total,
                is_open=v.added_count is None,
            )
        )
    return infos[::-1]


def version_size(dataset: Dataset, version: int | None = None) -> int:
    version = version or dataset.latest_version
    return next((v.total for v in dataset_versions(dataset) if v.number == version), 0)


def dataset_sizes(project: Project) -> dict[int, int]:
    """Latest-version size of every dataset of a project, from the stored counts."""
    rows = (
        DatasetVersion.objects.filter(dataset__project=project)
        .values("dataset_id")
        .annotate(closed=Sum("added_count"))
        .order_by()
    )
    sizes = {row["dataset_id"]: row["closed"] or 0 for row in rows}
    open_versions = DatasetVersion.objects.filter(
        dataset__project=project, added_count__isnull=True
    ).values_list("dataset_id", "number")
    by_dataset: dict[int, list[int]] = {}
    for dataset_id, number in open_versions:
        by_dataset.setdefault(dataset_id, []).append(number)
    for dataset_id, numbers in by_dataset.items():
        sizes[dataset_id] += sum(open_version_counts(dataset_id, numbers).values())
    return sizes


def _by_frequency(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(((k, n) for k, n in counts.items() if n > 0), key=lambda kn: (-kn[1], kn[0]))


def label_distribution(dataset: Dataset, version: int | None = None) -> list[tuple[str, int]]:
    """(label, samples carrying it) in version n, most frequent first.

    Closed versions contribute their stored counts; only open ones are grouped live.
    """
    version = version or dataset.latest_version
    counts: Counter[str] = Counter()
    open_numbers = []
    for row in version_rows(dataset):
        if row.number > version:
            continue
        if row.added_labels is None:
            open_numbers.append(row.number)
        else:
            counts.update(row.added_labels)
    for live in version_label_counts(dataset.pk, open_numbers).values():
        counts.update(live)
    return _by_frequency(counts)


def label_distribution_kept(
    dataset: Dataset, version: int | None = None, labels: list[tuple[str, int]] | None = None
) -> tuple[list[tuple[str, int]], int]:
    """label_distribution without the rejected samples, and how many rejected it leaves out.

    `labels` is label_distribution's answer if the caller has it. Reviews and edits keep
    each version's rejected counts (`DatasetVersion.rejected_labels`), so nothing is read
    but the versions the page has already loaded.
    """
    version = version or dataset.latest_version
    if labels is None:
        labels = label_distribution(dataset, version)
    counts, rejected = Counter(dict(labels)), 0
    for row in version_rows(dataset):
        if row.number <= version:
            rejected += row.rejected_count
            counts.subtract(row.rejected_labels)
    return _by_frequency(counts), rejected


def edit_content(sample: Sample, payload: Any) -> SpecContent:
    """What an edited payload must satisfy: its run's spec version, else the dataset's
    task type with the labels the dataset already uses."""
    if sample.run_id and sample.run is not None:
        return content_of(sample.run.spec_version)
    multi = isinstance(payload, dict) and "labels" in payload and "label" not in payload
    return SpecContent(
        task_type=sample.dataset.task_type,
        labels=tuple(sorted(label for label, _ in label_distribution(sample.dataset))),
        multi_label=multi,
        # Custom samples without a spec keep the fields and types they have now.
        seeds=(sample.payload,) if isinstance(sample.payload, dict) else (),
    )


# --- browsing ---------------------------------------------------------------------------


def sample_queryset(
    dataset: Dataset,
    version: int | None = None,
    label: str | None = None,
    run_id: int | None = None,
    review_state: str | None = None,
    q: str | None = None,
) -> QuerySet[Sample]:
    return browsing.content_filters(
        browsing.indexed_filters(dataset, version, run_id, review_state), label, q
    )


def sample_page(
    dataset: Dataset,
    version: int | None = None,
    label: str | None = None,
    run_id: int | None = None,
    review_state: str | None = None,
    q: str | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> tuple[list[Sample], int | None]:
    """One page of samples, newest first, and the cursor of the next page (None at the end).

    The cursor is the last id shown: the next page is `id < cursor`, which stays one index
    range scan however deep the reader goes.
    """
    limit = max(1, min(limit, MAX_PAGE))
    indexed = browsing.indexed_filters(dataset, version, run_id, review_state, after_id)
    q = q.strip() if q else None
    want = limit + 1
    if not (label or q):
        rows = browsing.newest(indexed, want)
    else:
        # A label's frequency is known exactly from the stored counts: when few samples
        # carry it, fetching them all from the GIN index is cheaper than any id walk.
        carrying = None
        if label and not q:
            carrying = dict(label_distribution(dataset, version)).get(label, 0)
        rare = carrying is not None and carrying <= browsing.RARE_LABEL
        window = browsing.WINDOW
        if carrying is not None:
            number = version or dataset.latest_version
            sizes = [v.added_count for v in version_rows(dataset) if v.number <= number]
            window = browsing.first_window(carrying, sizes, want)
        rows = browsing.content_page(indexed, label, q, want, rare=rare, window=window)
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None
