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
