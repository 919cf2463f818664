import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.datasets import browsing, selectors, services
from apps.datasets.models import DatasetVersion, ReviewState, Sample
from tests.datasets.helpers import add_version, classification, make_run
from tests.queries import count_queries

pytestmark = pytest.mark.django_db


def _all_ids(dataset, **filters) -> list[int]:
    ids, cursor = [], None
    while True:
        page, cursor = selectors.sample_page(dataset, after_id=cursor, limit=7, **filters)
        ids += [s.pk for s in page]
        if cursor is None:
            return ids


def test_a_new_version_adds_samples_without_copying(owner):
    v1 = add_version(owner.project, "tickets", [classification(i) for i in range(10)])
    v2 = add_version(owner.project, "tickets", [classification(i) for i in range(10, 15)])
    dataset = v2.dataset
    dataset.refresh_from_db()

    assert (v1.number, v2.number, dataset.latest_version) == (1, 2, 2)
    assert Sample.objects.filter(dataset=dataset).count() == 15  # no row was copied
    assert len(_all_ids(dataset, version=1)) == 10
    assert len(_all_ids(dataset, version=2)) == 15
    assert len(_all_ids(dataset)) == 15
    infos = {v.number: (v.added, v.total) for v in selectors.dataset_versions(dataset)}
    assert infos == {1: (10, 10), 2: (5, 15)}
    assert selectors.dataset_sizes(owner.project) == {dataset.pk: 15}


def test_open_versions_are_counted_live_and_closed_once(owner):
    add_version(owner.project, "tickets", [classification(i) for i in range(4)])
    open_version = add_version(
        owner.project, "tickets", [classification(i) for i in range(4, 7)], close=False
    )
    dataset = open_version.dataset
    dataset.refresh_from_db()
    assert open_version.added_count is None
    assert selectors.version_size(dataset) == 7
    assert dict(selectors.label_distribution(dataset)) == {
        "billing": 3,
        "shipping": 2,
        "account": 2,
    }

    closed = services.dataset_version_close(dataset_id=dataset.pk, number=2)
    assert closed.added_count == 3
    assert closed.added_labels == {"billing": 1, "shipping": 1, "account": 1}
    # Idempotent: closing again counts the same.
    assert services.dataset_version_close(dataset_id=dataset.pk, number=2).added_count == 3


def test_version_of_a_finished_run_is_closed_when_first_viewed(owner, owner_client):
    add_version(owner.project, "tickets", [classification(0)])
    dataset = DatasetVersion.objects.get().dataset
    run = make_run(owner.project, dataset, number=2, status="SUCCEEDED")
    add_version(
        owner.project, "tickets", [classification(i) for i in range(1, 4)], close=False, run=run
    )
    assert DatasetVersion.objects.get(number=2).added_count is None

    assert owner_client.get(f"/datasets/{dataset.pk}/").status_code == 200
    assert DatasetVersion.objects.get(number=2).added_count == 3


def test_label_distribution_per_version(owner):
    add_version(owner.project, "tickets", [classification(i, "billing") for i in range(3)])
    v2 = add_version(owner.project, "tickets", [classification(i, "account") for i in range(3, 5)])
    dataset = v2.dataset
    dataset.refresh_from_db()
    assert selectors.label_distribution(dataset, 1) == [("billing", 3)]
    assert selectors.label_distribution(dataset, 2) == [("billing", 3), ("account", 2)]


def test_keyset_pages_have_no_duplicates_or_gaps(owner):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(120)])
    dataset = version.dataset
    first, cursor = selectors.sample_page(dataset, limit=50)
    second, cursor2 = selectors.sample_page(dataset, after_id=cursor, limit=50)
    third, cursor3 = selectors.sample_page(dataset, after_id=cursor2, limit=50)
    ids = [s.pk for s in first + second + third]
    assert (len(first), len(second), len(third), cursor3) == (50, 50, 20, None)
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 120
    assert set(ids) == set(Sample.objects.filter(dataset=dataset).values_list("pk", flat=True))


def test_a_page_never_counts_the_dataset(owner):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(60)])
    dataset = version.dataset
    with CaptureQueriesContext(connection) as queries:
        selectors.sample_page(dataset)
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        selectors.sample_page(dataset, label="billing", q="refund")
    assert not any("count(" in query["sql"].lower() for query in queries)


def test_filters_by_label_run_review_state_and_version(owner):
    v1 = add_version(owner.project, "tickets", [classification(i) for i in range(9)])
    dataset = v1.dataset
    run = make_run(owner.project, dataset, number=2)
    add_version(owner.project, "tickets", [classification(i) for i in range(9, 12)], run=run)
    dataset.refresh_from_db()
    rejected = Sample.objects.filter(dataset=dataset).order_by("id")[:2]
    Sample.objects.filter(pk__in=[s.pk for s in rejected]).update(review_state=ReviewState.REJECTED)

    billing = _all_ids(dataset, label="billing")
    assert len(billing) == 4
    assert all(Sample.objects.get(pk=pk).labels == ["billing"] for pk in billing)
    assert len(_all_ids(dataset, run_id=run.pk)) == 3
    assert sorted(_all_ids(dataset, review_state="rejected")) == [s.pk for s in rejected]
    assert len(_all_ids(dataset, version=1, label="billing")) == 3
    assert _all_ids(dataset, version=1, run_id=run.pk) == []


def test_full_text_search_uses_websearch_syntax(owner):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(9)])
    dataset = version.dataset
    assert len(_all_ids(dataset, q="refund")) == 3  # stemmed: matches "refund"
    assert len(_all_ids(dataset, q="parcels")) == 3  # "parcels" → "parcel"
    assert len(_all_ids(dataset, q='"password reset"')) == 3
    assert _all_ids(dataset, q="refund -invoice") == []
    assert len(_all_ids(dataset, q="refund OR parcel")) == 6
    assert len(_all_ids(dataset, q="refund", label="billing")) == 3


def test_page_filters_and_load_more_render_fragments(owner, owner_client):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(60)])
    url = f"/datasets/{version.dataset_id}/"

    page = owner_client.get(url).content.decode()
    assert page.count('class="sample ') == 50
    assert "Load more" in page
    assert 'hx-push-url="true"' in page

    fragment = owner_client.get(url, {"label": "shipping"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and 'id="results"' in html
    assert html.count('class="sample ') == 20
    assert "Load more" not in html

    first_ids = [s.pk for s in selectors.sample_page(version.dataset, limit=50)[0]]
    more = owner_client.get(url, {"cursor": first_ids[-1]}, HTTP_HX_REQUEST="true")
    html = more.content.decode()
    assert 'id="results"' not in html  # only rows, appended in place of the button
    assert html.count('class="sample ') == 10

    search = owner_client.get(url, {"q": "courier"}, HTTP_HX_REQUEST="true").content.decode()
    assert search.count('class="sample ') == 20
    assert "20 samples match the filters, newest first." in search  # all on one page
    everything = owner_client.get(url, {"review_state": "unreviewed"}).content.decode()
    assert "match the filters, newest first" not in everything  # more than a page: no count


def test_history_restore_gets_the_whole_page(owner, owner_client):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    response = owner_client.get(
        f"/datasets/{version.dataset_id}/",
        {"label": "billing"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()


def test_dataset_list_shows_sizes_from_stored_counts(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(4)])
    add_version(owner.project, "tickets", [classification(i) for i in range(4, 6)])
    html = owner_client.get("/datasets/").content.decode()
    assert "tickets" in html and "v2" in html
    assert '<td class="num">6</td>' in html


@pytest.mark.parametrize(
    "window,max_window,rare_label", [(10, 40, 0), (3, 6, 0), (50, 50, 0), (10, 40, 3000)]
)
def test_windowed_content_pages_match_a_plain_query(
    owner, monkeypatch, window, max_window, rare_label
):
    """The id-order windows and the GIN fallback return exactly what a plain query does."""
    monkeypatch.setattr(browsing, "WINDOW", window)
    monkeypatch.setattr(browsing, "MAX_WINDOW", max_window)
    monkeypatch.setattr(browsing, "RARE_LABEL", rare_label)
    # Dense, medium and rare labels, and a label only in the oldest samples.
    payloads = [classification(i, "old") for i in range(5)]
    payloads += [classification(i, "billing" if i % 9 else "account") for i in range(5, 150)]
    payloads += [classification(150, "shipping")]
    version = add_version(owner.project, "tickets", payloads)
    dataset = version.dataset
    for filters in [
        {"label": "billing"},
        {"label": "account"},
        {"label": "shipping"},
        {"label": "old"},
        {"label": "missing"},
        {"q": "refund"},
        {"q": "password", "label": "account"},
    ]:
        expected = list(
            selectors.sample_queryset(dataset, **filters)
            .order_by("-id")
            .values_list("id", flat=True)
        )
        assert _all_ids(dataset, **filters) == expected, filters


def test_a_label_page_walks_one_window_sized_from_the_labels_share(owner, monkeypatch):
    """A label on 10% of the samples: the first window is sized for the page at that
    share, so the page comes from one window (two reads of samples), not several."""
    monkeypatch.setattr(browsing, "WINDOW", 10)
    monkeypatch.setattr(browsing, "RARE_LABEL", 0)
    payloads = [classification(i, "account" if i % 10 == 0 else "billing") for i in range(300)]
    dataset = add_version(owner.project, "tickets", payloads).dataset
    with count_queries() as queries:
        page, cursor = selectors.sample_page(dataset, label="account", limit=5)
    expected = selectors.sample_queryset(dataset, label="account").order_by("-id")
    assert [s.pk for s in page] == list(expected.values_list("id", flat=True)[:5])
    assert cursor == page[-1].pk
    assert sum("datasets_sample" in sql for sql in queries.statements) == 2


def test_a_version_the_dataset_lacks_is_a_404_naming_its_versions(owner, owner_client):
    for start in (0, 3, 6):
        add_version(owner.project, "tickets", [classification(i) for i in range(start, start + 3)])
    url = f"/datasets/{DatasetVersion.objects.get(number=1).dataset_id}/"
    response = owner_client.get(url, {"version": 99})
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h2>Dataset tickets has no version 99; its versions are 1–3.</h2>" in html
    # The app's 404 page, which links back to the dataset instead of suggesting another
    # project.
    assert f'href="{url}">Open tickets v3</a>' in html
    assert "Nothing at this address in the project" not in html
    for bad in ("4", "0", "x"):
        assert owner_client.get(url, {"version": bad}).status_code == 404, bad
    for good in ("1", "3", ""):
        assert owner_client.get(url, {"version": good}).status_code == 200, good


def _bars(html: str) -> dict[str, int]:
    chart = html.split('id="label-chart"', 1)[1].split("</article>", 1)[0]
    found = re.findall(r'title="Show only ([^"]+)".*?class="bar-count">([\d,]+)<', chart, re.S)
    return {label: int(n.replace(",", "")) for label, n in found}


def test_label_bars_leave_out_rejected_samples_and_say_how_many(owner, owner_client):
    add_version(owner.project, "tickets", [classification(i) for i in range(6)])
    version = add_version(
        owner.project, "tickets", [classification(i) for i in range(6, 9)], close=False
    )
    url = f"/datasets/{version.dataset_id}/"
    samples = Sample.objects.order_by("id")
    # Two billing samples of v1 and the shipping one of the open v2.
    for sample in (samples[0], samples[3], samples[7]):
        services.sample_review(membership=owner, sample=sample, state=ReviewState.REJECTED)
    # Accepting one again and rejecting it once more counts it once.
    services.sample_review(membership=owner, sample=samples[0], state=ReviewState.ACCEPTED)
    services.sample_review(membership=owner, sample=samples[0], state=ReviewState.REJECTED)

    latest = owner_client.get(url).content.decode()
    assert _bars(latest) == {"account": 3, "billing": 1, "shipping": 2}
    assert "3 rejected samples left out" in latest
    first = owner_client.get(url, {"version": 1}).content.decode()
    assert _bars(first) == {"account": 2, "shipping": 2}  # v1 has no billing left
    assert "2 rejected samples left out" in first
    # The label filter still offers every sample it can show, rejected ones too, and
    # says how many of them are rejected.
    assert '<option value="billing" >billing (3, 2 rejected)</option>' in latest
    assert '<option value="account" >account (3)</option>' in latest
