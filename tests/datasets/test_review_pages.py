"""The dataset page's review: keys, undo, label buttons, progress and the table view."""

import pytest

from apps.datasets import services
from apps.datasets.models import Sample
from tests.datasets.helpers import add_version, classification
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def tickets(owner):
    version = add_version(owner.project, "tickets", [classification(i) for i in range(3)])
    return version.dataset


def test_the_page_offers_the_review_keys(owner_client, tickets):
    html = owner_client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert 'id="shortcuts"' in html
    assert "seedbed/review-keys.js" in html and "seedbed/dataset-review.js" in html
    sample = Sample.objects.order_by("-id")[0]
    assert f'data-url="/datasets/samples/{sample.pk}/"' in html
    assert 'data-state="unreviewed"' in html
    assert 'data-key="a"' in html and 'data-key="r"' in html and 'data-key="e"' in html


def test_a_viewer_gets_no_keys(tickets):
    from django.test import Client

    viewer = MembershipFactory(project=tickets.project, role="viewer")
    client = Client()
    client.force_login(viewer.user)
    html = client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert 'id="shortcuts"' not in html and 'data-key="a"' not in html


def test_undo_puts_an_edited_sample_back_to_edited_only(owner, owner_client, tickets):
    plain, edited = Sample.objects.order_by("id")[:2]
    url = "/datasets/samples/{}/review/"
    response = owner_client.post(url.format(plain.pk), {"state": "edited"}, **HTMX)
    assert response.status_code == 400
    services.sample_edit(
        membership=owner, sample=edited, payload={"text": "Changed.", "label": "billing"}
    )
    owner_client.post(url.format(edited.pk), {"state": "accepted"}, **HTMX)
    response = owner_client.post(url.format(edited.pk), {"state": "edited"}, **HTMX)
    assert response.status_code == 200
    assert 'data-state="edited"' in response.content.decode()
    plain.refresh_from_db()
    edited.refresh_from_db()
    assert (plain.review_state, edited.review_state) == ("unreviewed", "edited")


def test_another_projects_sample_is_404(owner_client):
    other = MembershipFactory()
    add_version(other.project, "theirs", [classification(1)])
    sample = Sample.objects.get()
    url = f"/datasets/samples/{sample.pk}/review/"
    assert owner_client.post(url, {"state": "accepted"}, **HTMX).status_code == 404
    sample.refresh_from_db()
    assert sample.review_state == "unreviewed"


def _labels_url(sample: Sample) -> str:
    return f"/datasets/samples/{sample.pk}/labels/"


def test_label_buttons_follow_the_labels_and_set_one(owner_client, tickets):
    sample = Sample.objects.get(payload__label="billing")
    html = owner_client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert '<div class="label-buttons" role="group" aria-label="Label" hx-target=' in html
    # The dataset's labels in order, keyed 1, 2, 3; the carried one pressed.
    for number, label in enumerate(["account", "billing", "shipping"], 1):
        assert f'data-key="{number}"' in html and f">{label} <kbd>{number}</kbd>" in html
    response = owner_client.post(_labels_url(sample), {"label": "shipping"}, **HTMX)
    assert response.status_code == 200
    row = response.content.decode()
    assert 'data-state="edited"' in row and 'data-labels="[&quot;shipping&quot;]"' in row
    sample.refresh_from_db()
    assert (sample.payload["label"], sample.labels) == ("shipping", ["shipping"])
    assert sample.lineage["before_edit"]["label"] == "billing"


def test_an_unknown_label_is_an_inline_error_and_changes_nothing(owner_client, tickets):
    sample = Sample.objects.get(payload__label="billing")
    for data in ({"label": "<b>nope</b>"}, {"labels": "not json"}, {"labels": '{"a": 1}'}, {}):
        response = owner_client.post(_labels_url(sample), data, **HTMX)
        assert response.status_code == 200, data
        html = response.content.decode()
        assert 'class="error row-error" role="alert"' in html, data
        assert "<b>nope</b>" not in html
    sample.refresh_from_db()
    assert (sample.payload["label"], sample.review_state) == ("billing", "unreviewed")


def test_multi_label_buttons_toggle_and_undo_sets_them_all(owner, owner_client):
    payloads = [
        {"text": "Refund and late parcel.", "labels": ["billing", "shipping"]},
        {"text": "Locked out.", "labels": ["account"]},
        # Without a spec, an edit may use the labels the dataset's samples carry.
        {"text": "Charged twice.", "labels": ["billing"]},
    ]
    dataset = add_version(owner.project, "multi", payloads).dataset
    sample = Sample.objects.get(text="Refund and late parcel.")
    html = owner_client.get(f"/datasets/{dataset.pk}/").content.decode()
    assert 'aria-label="Labels (any number)"' in html
    owner_client.post(_labels_url(sample), {"label": "billing"}, **HTMX)
    sample.refresh_from_db()
    assert sample.labels == ["shipping"]
    owner_client.post(_labels_url(sample), {"label": "account"}, **HTMX)
    sample.refresh_from_db()
    assert sorted(sample.labels) == ["account", "shipping"]
    undo = {"labels": '["billing", "shipping"]'}
    response = owner_client.post(_labels_url(sample), undo, **HTMX)
    assert "row-error" not in response.content.decode()
    sample.refresh_from_db()
    assert sorted(sample.labels) == ["billing", "shipping"]


def test_labels_of_another_projects_sample_are_404_and_viewers_403(owner_client, tickets):
    from django.test import Client

    other = MembershipFactory()
    add_version(other.project, "theirs", [classification(1)])
    theirs = Sample.objects.get(dataset__project=other.project)
    assert owner_client.post(_labels_url(theirs), {"label": "billing"}).status_code == 404
    viewer = MembershipFactory(project=tickets.project, role="viewer")
    client = Client()
    client.force_login(viewer.user)
    mine = Sample.objects.filter(dataset=tickets)[0]
    assert client.post(_labels_url(mine), {"label": "billing"}).status_code == 403
    assert client.post(_labels_url(mine), {"labels": "not json"}).status_code == 403


def _counts(dataset) -> list[tuple[int, int, int, int]]:
    from apps.datasets.models import DatasetVersion

    return list(
        DatasetVersion.objects.filter(dataset=dataset)
        .order_by("number")
        .values_list("number", "accepted_count", "rejected_count", "edited_count")
    )


def test_reviews_keep_the_counters_and_record_who_and_when(owner, owner_client, tickets):
    add_version(owner.project, "tickets", [classification(i) for i in range(10, 12)])
    first, second, third = Sample.objects.filter(version=1).order_by("id")
    newer = Sample.objects.filter(version=2).order_by("id")[0]
    review = "/datasets/samples/{}/review/"
    response = owner_client.post(review.format(first.pk), {"state": "accepted"}, **HTMX)
    assert response["HX-Trigger"] == "sample-reviewed"
    owner_client.post(review.format(second.pk), {"state": "rejected"}, **HTMX)
    owner_client.post(review.format(newer.pk), {"state": "accepted"}, **HTMX)
    owner_client.post(_labels_url(third), {"label": "shipping"}, **HTMX)
    assert _counts(tickets) == [(1, 1, 1, 1), (2, 1, 0, 0)]
    # Changing one's mind moves a sample between counters; unreviewed leaves them all.
    owner_client.post(review.format(first.pk), {"state": "rejected"}, **HTMX)
    owner_client.post(review.format(third.pk), {"state": "accepted"}, **HTMX)
    owner_client.post(review.format(newer.pk), {"state": "unreviewed"}, **HTMX)
    assert _counts(tickets) == [(1, 1, 2, 0), (2, 0, 0, 0)]
    first.refresh_from_db()
    assert first.reviewed_by == owner.user and first.reviewed_at is not None

    html = owner_client.get(f"/datasets/{tickets.pk}/").content.decode()
    assert "<strong>3 of 5 reviewed</strong> in v2;\n  1 accepted, 2 rejected</span>" in html
    html = owner_client.get(f"/datasets/{tickets.pk}/?version=1").content.decode()
    assert "<strong>3 of 3 reviewed</strong> in v1;" in html
    fragment = owner_client.get(f"/datasets/{tickets.pk}/progress/?version=2", **HTMX)
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith('<p id="review-progress"') and "3 of 5 reviewed" in text


def test_a_failed_review_changes_no_counter(owner_client, tickets):
    sample = Sample.objects.order_by("id")[0]
    review = f"/datasets/samples/{sample.pk}/review/"
    assert owner_client.post(review, {"state": "bogus"}, **HTMX).status_code == 400
    response = owner_client.post(_labels_url(sample), {"label": "nope"}, **HTMX)
    assert "row-error" in response.content.decode() and "HX-Trigger" not in response
    assert _counts(tickets) == [(1, 0, 0, 0)]


def test_progress_of_a_missing_version_or_another_project_is_404(owner_client, tickets):
    assert owner_client.get(f"/datasets/{tickets.pk}/progress/?version=9").status_code == 404
    other = MembershipFactory()
    theirs = add_version(other.project, "theirs", [classification(1)]).dataset
    assert owner_client.get(f"/datasets/{theirs.pk}/progress/").status_code == 404


def test_the_migration_counts_the_reviews_already_stored(owner):
    from django.db import connection

    from apps.datasets.migrations import __name__ as package

    migration = __import__(f"{package}.0009_review_progress", fromlist=["COUNT_REVIEWED"])
    version = add_version(owner.project, "tickets", [classification(i) for i in range(4)])
    a, b, c, _ = Sample.objects.order_by("id")
    Sample.objects.filter(pk__in=[a.pk, b.pk]).update(review_state="accepted")
    Sample.objects.filter(pk=c.pk).update(review_state="edited")
    with connection.cursor() as cursor:
        cursor.execute(migration.COUNT_REVIEWED)
    version.refresh_from_db()
    assert (version.accepted_count, version.edited_count) == (2, 1)


def test_the_table_view_is_remembered_and_escapes_the_text(owner, owner_client):
    payloads = [classification(1), {"text": "<script>alert(1)</script> bad", "label": "billing"}]
    dataset = add_version(owner.project, "tickets", payloads).dataset
    page = f"/datasets/{dataset.pk}/"
    html = owner_client.get(page).content.decode()
    assert '<article class="sample state-unreviewed"' in html and "compact" not in html
    assert f'href="/datasets/{dataset.pk}/?view=table">Table</a>' in html

    html = owner_client.get(page + "?view=table").content.decode()
    assert '<article class="sample compact state-unreviewed"' in html
    assert (
        '<span class="sample-preview" hx-disable>&lt;script&gt;alert(1)&lt;/script&gt; bad' in html
    )
    assert "<script>alert(1)" not in html
    assert 'aria-current="true">Table</a>' in html
    # Remembered: the next visit, the filtered list and a reviewed row are in the table too.
    assert '<article class="sample compact' in owner_client.get(page).content.decode()
    fragment = owner_client.get(page + "?q=bad", **HTMX).content.decode()
    assert '<article class="sample compact' in fragment
    sample = Sample.objects.get(payload__label="billing")
    row = owner_client.post(f"/datasets/samples/{sample.pk}/review/", {"state": "accepted"}, **HTMX)
    assert row.content.decode().startswith('<article class="sample compact state-accepted"')

    owner_client.get(page + "?view=cards")
    assert "sample compact" not in owner_client.get(page).content.decode()
    assert owner_client.get(page + "?view=bogus").status_code == 200


def test_the_trail_page_says_who_reviewed_a_sample_and_when(owner, owner_client, tickets):
    sample = Sample.objects.order_by("id")[0]
    owner.user.username = "<b>rev</b>"
    owner.user.save()
    html = owner_client.get(f"/datasets/samples/{sample.pk}/lineage/").content.decode()
    assert "reviewed-by" not in html
    owner_client.post(f"/datasets/samples/{sample.pk}/review/", {"state": "rejected"}, **HTMX)
    html = owner_client.get(f"/datasets/samples/{sample.pk}/lineage/").content.decode()
    assert '<span class="reviewed-by">by &lt;b&gt;rev&lt;/b&gt; on 20' in html
