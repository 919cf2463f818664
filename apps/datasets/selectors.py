"""Reads for datasets and samples; every entry point takes the caller's project.

Browsing must stay flat as a dataset grows to millions of samples: pages are keyset
paginated on -id, every filter has an index, and sizes come from per-version counts taken
once when a version closes, never from COUNT(*) over the dataset.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db import connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.http import Http404

from apps.core.models import Project
from apps.specs.task_types import SpecContent, content_of

from .models import Dataset, DatasetVersion, ExportJob, Sample

MAX_PAGE = 500
# Columns a sample row needs; the tsvector and hash stay in the database.
ROW_FIELDS = (
    "id",
    "dataset",
    "version",
    "run",
    "index",
    "payload",
    "text",
    "labels",
    "lineage",
    "review_state",
    "created_at",
)


def dataset_list(project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project).order_by("name")


def dataset_get(project: Project, dataset_id: int) -> Dataset:
    try:
        return dataset_list(project).get(pk=dataset_id)
    except Dataset.DoesNotExist as exc:
        raise Http404("No such dataset.") from exc


def dataset_get_by_name(project: Project, name: str) -> Dataset | None:
    return dataset_list(project).filter(name=name.strip()).first()


def sample_get(project: Project, sample_id: int) -> Sample:
    try:
        return Sample.objects.select_related("dataset").get(pk=sample_id, dataset__project=project)
    except Sample.DoesNotExist as exc:
        raise Http404("No such sample.") from exc


def export_job_get(project: Project, job_id: int) -> ExportJob:
    try:
        return ExportJob.objects.select_related("dataset").get(pk=job_id, project=project)
    except ExportJob.DoesNotExist as exc:
        raise Http404("No such export.") from exc


def export_job_list(dataset: Dataset, limit: int = 5) -> list[ExportJob]:
    return list(ExportJob.objects.filter(dataset=dataset).order_by("-created_at")[:limit])


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
    return sorted(((k, n) for k, n in counts.items() if n > 0), key=lambda kn: (-kn[1], kn[0]))


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


# --- browsing --------------------------------------------------------------------------


def _version_id_bound(dataset: Dataset, version: int) -> int | None:
    """The highest sample id in versions 1..n (one index probe per version).

    Browsing an old version scans ids downwards from here instead of wading through
    every newer sample first. Each probe orders by (version, id), which only the
    (dataset, version, id) index serves: with `version = k` and `max(id)` the planner may
    instead walk the primary key down from the newest sample, through every newer
    version's rows (a quarter of a second at a million).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT max(m.id) FROM datasets_datasetversion v
            CROSS JOIN LATERAL (
                SELECT s.id FROM datasets_sample s
                WHERE s.dataset_id = v.dataset_id AND s.version <= v.number
                ORDER BY s.version DESC, s.id DESC
                LIMIT 1
            ) m
            WHERE v.dataset_id = %s AND v.number <= %s
            """,
            [dataset.pk, version],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _indexed_filters(
    dataset: Dataset,
    version: int | None = None,
    run_id: int | None = None,
    review_state: str | None = None,
    after_id: int | None = None,
) -> QuerySet[Sample]:
    """The filters served by b-tree indexes in id order."""
    samples = Sample.objects.filter(dataset=dataset)
    if version and version < dataset.latest_version:
        # Every sample belongs to the latest version, so only older ones need a filter.
        bound = _version_id_bound(dataset, version)
        if bound is None:
            return samples.none()
        samples = samples.filter(version__lte=version, id__lte=bound)
    if run_id:
        samples = samples.filter(run_id=run_id)
    if review_state:
        samples = samples.filter(review_state=review_state)
    if after_id:
        samples = samples.filter(id__lt=after_id)
    return samples


def _content_filters(
    samples: QuerySet[Sample], label: str | None = None, q: str | None = None
) -> QuerySet[Sample]:
    """The filters served by GIN indexes (labels, full text)."""
    if label:
        samples = samples.filter(labels__contains=[label])
    if q and q.strip():
        samples = samples.filter(
            search=SearchQuery(q.strip(), search_type="websearch", config="english")
        )
    return samples


def sample_queryset(
    dataset: Dataset,
    version: int | None = None,
    label: str | None = None,
    run_id: int | None = None,
    review_state: str | None = None,
    q: str | None = None,
) -> QuerySet[Sample]:
    return _content_filters(_indexed_filters(dataset, version, run_id, review_state), label, q)


WINDOW = 5000  # newest candidates walked in id order before the GIN indexes are used
MAX_WINDOW = 20_000
RARE_LABEL = 3000  # samples carrying a label below which its GIN entries are read directly
_PLANS = {
    # Scan the window in id order and test each row: no GIN bitmap of a common label.
    "id order": {"enable_bitmapscan": "off"},
    # Past the window matches are rare: collect them from the GIN indexes, then sort.
    "gin": {"enable_indexscan": "off", "enable_seqscan": "off"},
}


def _with_plan(cursor: Any, plan: str | None) -> None:
    settings = dict.fromkeys(("enable_bitmapscan", "enable_indexscan", "enable_seqscan"), "on")
    settings.update(_PLANS.get(plan or "", {}))
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    cursor.execute(f"SELECT {calls}", [x for kv in settings.items() for x in kv])


def _rows(samples: QuerySet[Sample], n: int) -> list[Sample]:
    return list(samples.only(*ROW_FIELDS).order_by("-id")[:n])


def _label_count(dataset: Dataset, version: int | None, label: str) -> int:
    return dict(label_distribution(dataset, version)).get(label, 0)


def _first_window(dataset: Dataset, version: int | None, carrying: int, want: int) -> int:
    """Candidates to walk first for a label on `carrying` samples: enough to hold `want`
    matches at the label's known share (half as many again for luck), so one window
    usually fills the page."""
    number = version or dataset.latest_version
    sizes = [row.added_count for row in version_rows(dataset) if row.number <= number]
    if not carrying or None in sizes:
        return WINDOW
    share = carrying / max(1, sum(size or 0 for size in sizes))
    return max(WINDOW, min(MAX_WINDOW, int(want / share * 1.5)))


def _window_floor(scope: QuerySet[Sample], size: int) -> int | None:
    """The id `size` candidates down from the top of `scope` (None if fewer remain)."""
    ids = list(scope.order_by("-id").values_list("id", flat=True)[size - 1 : size])
    return ids[0] if ids else None


def _content_page(
    indexed: QuerySet[Sample],
    label: str | None,
    q: str | None,
    want: int,
    rare: bool = False,
    window: int = WINDOW,
) -> list[Sample]:
    """A page filtered by label or text, fast whether the filter matches most or few rows.

    PostgreSQL picks between "walk ids downwards and test each row" (best when many rows
    match) and "collect every match from the GIN index, then sort" (best when few do) from
    its selectivity estimates, which are often far off for labels and phrases, and a wrong
    pick costs hundreds of milliseconds on a million rows. So the newest candidates are
    walked in id order in bounded windows (the second sized from the matches the first
    found), and only what is left, where matches are rare, comes from the GIN indexes.
    A `rare` filter (a label on few samples) goes to the GIN indexes at once; for other
    labels the first `window` is sized from the label's share.
    """
    rows: list[Sample] = []
    upper: int | None = None  # candidates with ids below this are still to be looked at
    with transaction.atomic(), connection.cursor() as cursor:
        try:
            if not rare:
                _with_plan(cursor, "id order")
                for _ in range(2):
                    scope = indexed.filter(id__lt=upper) if upper else indexed
                    floor = _window_floor(scope, window)
                    if floor is None:  # fewer than `window` candidates left: walk them all
                        return rows + _rows(_content_filters(scope, label, q), want - len(rows))
                    found = _rows(_content_filters(scope.filter(id__gte=floor), label, q), want)
                    rows += found[: want - len(rows)]
                    if len(rows) >= want:
                        return rows
                    upper = floor
                    # Another window only if the density seen promises to fill the page in it.
                    window = int((want - len(rows)) * window / max(len(found), 1) * 1.5) + 1
                    if not found or window > MAX_WINDOW:
                        break
            _with_plan(cursor, "gin")
            older = _content_filters(indexed.filter(id__lt=upper) if upper else indexed, label, q)
            return rows + _rows(older, want - len(rows))
        finally:
            _with_plan(cursor, None)


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
    indexed = _indexed_filters(dataset, version, run_id, review_state, after_id)
    q = q.strip() if q else None
    want = limit + 1
    if not (label or q):
        rows = _rows(indexed, want)
    else:
        # A label's frequency is known exactly from the stored counts: when few samples
        # carry it, fetching them all from the GIN index is cheaper than any id walk.
        carrying = _label_count(dataset, version, label) if label and not q else None
        rare = carrying is not None and carrying <= RARE_LABEL
        window = WINDOW if carrying is None else _first_window(dataset, version, carrying, want)
        rows = _content_page(indexed, label, q, want, rare=rare, window=window)
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].pk
    return rows, None
