"""How a page of samples is fetched from a dataset of millions: which index serves each
filter and in what order candidates are walked. `selectors.sample_page` is the entry point."""

from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.db import connection, transaction
from django.db.models import QuerySet

from .models import Dataset, Sample

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


def indexed_filters(
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


def content_filters(
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


def newest(samples: QuerySet[Sample], n: int) -> list[Sample]:
    return list(samples.only(*ROW_FIELDS).order_by("-id")[:n])


def first_window(carrying: int, sizes: list[int | None], want: int) -> int:
    """Candidates to walk first for a label on `carrying` of the samples in versions of
    `sizes`: enough to hold `want` matches at the label's share (half as many again for
    luck), so one window usually fills the page."""
    if not carrying or None in sizes:
        return WINDOW
    share = carrying / max(1, sum(size or 0 for size in sizes))
    return max(WINDOW, min(MAX_WINDOW, int(want / share * 1.5)))


def _window_floor(scope: QuerySet[Sample], size: int) -> int | None:
    """The id `size` candidates down from the top of `scope` (None if fewer remain)."""
    ids = list(scope.order_by("-id").values_list("id", flat=True)[size - 1 : size])
    return ids[0] if ids else None


def content_page(
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
                        return rows + newest(content_filters(scope, label, q), want - len(rows))
                    found = newest(content_filters(scope.filter(id__gte=floor), label, q), want)
                    rows += found[: want - len(rows)]
                    if len(rows) >= want:
                        return rows
                    upper = floor
                    # Another window only if the density seen promises to fill the page in it.
                    window = int((want - len(rows)) * window / max(len(found), 1) * 1.5) + 1
                    if not found or window > MAX_WINDOW:
                        break
            _with_plan(cursor, "gin")
            older = content_filters(indexed.filter(id__lt=upper) if upper else indexed, label, q)
            return rows + newest(older, want - len(rows))
        finally:
            _with_plan(cursor, None)
