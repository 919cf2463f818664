import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from apps.core.models import ApiKey

pytestmark = pytest.mark.django_db

PROVIDERS = "/api/v1/providers/"


def test_x_api_key_header_authenticates(owner, owner_key):
    response = Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key)
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == []  # factory project has no providers


def test_bearer_header_authenticates(owner, owner_key):
    response = Client().get(PROVIDERS, HTTP_AUTHORIZATION=f"Bearer {owner_key}")
    assert response.status_code == 200


def test_missing_and_wrong_keys_get_401(owner, owner_key):
    assert Client().get(PROVIDERS).status_code == 401
    response = Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key + "x")
    assert response.status_code == 401
    assert "Invalid or revoked" in response.json()["detail"]


def test_revoked_key_gets_401(owner_client, owner, owner_key):
    key = ApiKey.objects.get(user=owner.user)
    response = owner_client.post(reverse("api_key_revoke", args=[key.pk]))
    assert response.status_code == 200
    assert Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key).status_code == 401


def test_database_holds_no_plaintext_key(owner, owner_key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prefix, key_hash, name FROM core_apikey")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert all(owner_key not in str(value) for value in rows[0])
    assert owner_key[:10] == rows[0][0]  # only a short prefix to tell keys apart


def test_settings_page_shows_new_key_once(owner_client):
    page = owner_client.post(reverse("api_key_list"), {"name": "notebook"})
    assert page.status_code == 200
    key = ApiKey.objects.get(name="notebook")
    body = page.content.decode()
    assert "it will not be shown again" in body
    raw = body.split('id="new-key">', 1)[1].split("<", 1)[0]
    assert raw.startswith(key.prefix)
    assert Client().get(PROVIDERS, HTTP_X_API_KEY=raw).status_code == 200
    again = owner_client.get(reverse("api_key_list")).content.decode()
    assert raw not in again
    assert key.prefix in again


def test_empty_key_name_is_an_inline_error(owner_client):
    page = owner_client.post(reverse("api_key_list"), {"name": ""})
    assert "This field is required" in page.content.decode()
    assert ApiKey.objects.count() == 0


def test_key_reaches_only_its_own_project(owner, owner_key):
    from tests.factories import MembershipFactory, ProviderFactory

    other = MembershipFactory(user=owner.user)  # same user, second project
    foreign = ProviderFactory(project=other.project)
    mine = ProviderFactory(project=owner.project)
    listing = Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key).json()
    assert [p["id"] for p in listing] == [mine.pk]
    response = Client().get(f"{PROVIDERS}{foreign.pk}/", HTTP_X_API_KEY=owner_key)
    assert response.status_code == 404


def test_a_key_stops_when_its_user_leaves_the_project(owner, owner_key):
    assert Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key).status_code == 200
    owner.delete()  # the membership: the user and the key remain
    response = Client().get(PROVIDERS, HTTP_X_API_KEY=owner_key)
    assert response.status_code == 401
    assert "Invalid or revoked" in response.json()["detail"]
