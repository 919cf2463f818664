import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import Provider, Role
from tests.factories import MembershipFactory, ProviderFactory, api_key_for

pytestmark = pytest.mark.django_db

NEW_PROVIDER = {
    "name": "openai-main",
    "kind": "openai",
    "base_url": "https://api.openai.com/v1",
    "api_key": "sk-secret-value",
    "default_model": "gpt-4o-mini",
}


@pytest.fixture
def project_b_provider():
    return ProviderFactory(project=MembershipFactory().project, name="b-secret-provider")


def test_member_of_a_gets_404_for_b_provider_in_api(owner_key, project_b_provider):
    url = f"/api/v1/providers/{project_b_provider.pk}/"
    assert Client().get(url, HTTP_X_API_KEY=owner_key).status_code == 404
    assert Client().patch(url, {}, HTTP_X_API_KEY=owner_key).status_code == 404
    assert Client().delete(url, HTTP_X_API_KEY=owner_key).status_code == 404
    test_url = f"{url}test/"
    assert Client().post(test_url, HTTP_X_API_KEY=owner_key).status_code == 404
    assert Provider.objects.filter(pk=project_b_provider.pk).exists()


def test_member_of_a_gets_404_for_b_provider_in_pages(owner_client, project_b_provider):
    pk = project_b_provider.pk
    assert owner_client.get(reverse("provider_edit", args=[pk])).status_code == 404
    assert owner_client.post(reverse("provider_test", args=[pk])).status_code == 404
    assert owner_client.post(reverse("provider_delete", args=[pk])).status_code == 404
    listing = owner_client.get(reverse("provider_list")).content.decode()
    assert "b-secret-provider" not in listing


def test_switching_to_a_foreign_project_is_404(owner_client, project_b_provider):
    response = owner_client.post(
        reverse("project_switch"), {"project_id": project_b_provider.project_id}
    )
    assert response.status_code == 404


def test_viewer_cannot_create_provider_in_api():
    viewer = MembershipFactory(role=Role.VIEWER)
    response = Client().post(
        "/api/v1/providers/",
        NEW_PROVIDER,
        content_type="application/json",
        HTTP_X_API_KEY=api_key_for(viewer),
    )
    assert response.status_code == 403
    assert not Provider.objects.filter(name="openai-main").exists()


def test_viewer_cannot_create_provider_in_pages():
    viewer = MembershipFactory(role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert client.get(reverse("provider_create")).status_code == 403
    assert client.post(reverse("provider_create"), NEW_PROVIDER).status_code == 403
    assert "Add provider" not in client.get(reverse("provider_list")).content.decode()
    assert not Provider.objects.filter(name="openai-main").exists()


def test_member_creates_provider_and_key_is_encrypted(owner_key, monkeypatch):
    monkeypatch.setattr("apps.core.services.check_provider_url", lambda url: None)
    response = Client().post(
        "/api/v1/providers/",
        NEW_PROVIDER,
        content_type="application/json",
        HTTP_X_API_KEY=owner_key,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_api_key"] is True
    assert "sk-secret-value" not in response.content.decode()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM core_provider WHERE id = %s", [body["id"]])
        (stored,) = cursor.fetchone()
    assert stored and "sk-secret-value" not in stored
    assert Provider.objects.get(pk=body["id"]).api_key == "sk-secret-value"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_concurrency", 0, "greater than or equal to 1"),
        ("max_concurrency", 5000, "less than or equal to 1024"),
        ("kind", "cohere", "not a valid choice"),
        ("base_url", "ftp://x", "valid URL"),
    ],
)
def test_bad_provider_input_is_400_naming_the_field(owner_key, field, value, message):
    payload = {**NEW_PROVIDER, field: value}
    response = Client().post(
        "/api/v1/providers/", payload, content_type="application/json", HTTP_X_API_KEY=owner_key
    )
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])


def test_a_404_page_says_to_switch_project_without_telling_what_exists(owner, owner_client):
    from tests.datasets.helpers import add_version, classification

    other = MembershipFactory(user=owner.user)  # the owner is in a second project too
    theirs = add_version(other.project, "their-data", [classification(1)]).dataset
    page = owner_client.get(f"/datasets/{theirs.pk}/")
    html = page.content.decode()
    assert page.status_code == 404
    assert "No such dataset." in html and "switch project in the header" in html
    assert "their-data" not in html
    # An id that exists nowhere reads the same: the page reveals nothing.
    missing = owner_client.get("/datasets/987654321/").content.decode()

    def main(page: str) -> str:
        return page[page.index("<main") : page.index("</main>")]

    assert main(missing) == main(html)
