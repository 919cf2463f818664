"""API paths answer with or without their trailing slash, and in JSON when they match
nothing (the SDKs read the error shape of their own service)."""

import pytest
from django.test import Client

from tests.specs.helpers import LABELS, SEEDS

pytestmark = pytest.mark.django_db

SPEC = {"name": "Intents", "task_type": "classification", "description": "Tickets."}


@pytest.fixture
def api(owner_key) -> Client:
    return Client(HTTP_X_API_KEY=owner_key)


def test_a_path_without_its_trailing_slash_is_served_not_redirected(api):
    body = {**SPEC, "labels": LABELS, "seeds": SEEDS}
    created = api.post("/api/v1/specs", body, content_type="application/json")
    assert created.status_code == 201, created.content
    spec_id = created.json()["id"]
    assert api.get(f"/api/v1/specs/{spec_id}").json()["name"] == "Intents"
    version = api.post(f"/api/v1/specs/{spec_id}/versions", {}, content_type="application/json")
    assert version.status_code == 201 and version.json()["number"] == 2


def test_a_pioneer_path_with_a_trailing_slash_is_served(api):
    assert api.get("/inferences/").status_code == 200
    assert api.get("/inferences/").json() == api.get("/inferences").json()


def test_unmatched_api_paths_are_json_404s_in_the_shape_their_clients_read(api):
    for path in ("/api/v1/nothing", "/api/v1/specs/abc/", "/inferences/abc", "/generate/x"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": f"No endpoint GET {path}; see /api/docs/."}
    embeddings = api.post("/v1/embeddings", {}, content_type="application/json")
    assert embeddings.status_code == 404
    error = embeddings.json()["error"]
    assert error["message"] == "No endpoint POST /v1/embeddings; see /api/docs/."
    assert (error["type"], error["code"]) == ("not_found_error", "unknown_url")


def test_an_unknown_page_is_still_the_site_404_page(owner_client):
    response = owner_client.get("/no-such-<b>page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<code>/no-such-&lt;b&gt;page/</code>" in page and "Go to the start page" in page
