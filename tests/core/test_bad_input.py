"""Bad input is a 400 naming what is wrong, never a 500 (apps/core/inputs.py): JSON in the
API, a message on a page of its own in the browser."""

from __future__ import annotations

import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.datasets.models import DatasetVersion, Sample
from tests.datasets.helpers import add_version, classification, ner

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture
def api(owner_key: str) -> Client:
    return Client(HTTP_X_API_KEY=owner_key)


@pytest.fixture
def sample(owner) -> Sample:
    add_version(owner.project, "people", [ner(0)], task_type="ner")
    return Sample.objects.get()


# --- JSON bodies: depth, NaN/Infinity, NUL ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/specs/"),
        ("post", "/api/v1/runs/"),
        ("post", "/generate"),
        ("post", "/api/v1/labelling-jobs/"),
        ("post", "/api/v1/providers/"),
        ("post", "/api/v1/inferences/promote/"),
    ],
)
def test_json_nested_10000_deep_is_a_400(api, method, path):
    response = getattr(api, method)(path, DEEP, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested more than 64 levels deep" in json.dumps(response.json())


def test_sample_patch_nested_10000_deep_is_a_400(api, sample):
    url = f"/api/v1/samples/{sample.pk}/"
    response = api.patch(url, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels deep" in json.dumps(response.json())


def test_sample_payload_nested_600_deep_is_refused_at_once_naming_the_limit(api, sample):
    deep = {"text": "Bob in Rome", "entities": []}
    inner: dict = deep
    for _ in range(600):
        inner["x"] = {}
        inner = inner["x"]
    started = time.monotonic()
    response = api.patch(
        f"/api/v1/samples/{sample.pk}/", {"payload": deep}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"payload": ["payload is nested more than 64 levels deep."]}
    assert time.monotonic() - started < 5


def test_sample_payload_over_the_size_limit_is_refused_naming_it(api, sample):
    big = {"text": "Bob in Rome " + "x" * (1024 * 1024), "entities": []}
    response = api.patch(
        f"/api/v1/samples/{sample.pk}/", {"payload": big}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "the limit is 1,048,576" in response.json()["payload"][0]


def test_sample_patch_with_nul_is_a_400_naming_the_field(api, sample):
    body = '{"payload": {"text": "Bob in a\\u0000b", "entities": []}}'
    response = api.patch(f"/api/v1/samples/{sample.pk}/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "payload.text": [
            "payload.text contains a NUL character or an invalid (lone surrogate) code point."
        ]
    }
    sample.refresh_from_db()
    assert sample.review_state != "edited"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_400(api, constant):
    body = '{"name": "x", "task_type": "ner", "description": "d", "seeds": [{"n": %s}]}'
    response = api.post("/api/v1/specs/", body % constant, content_type="application/json")
    assert response.status_code == 400
    assert "finite" in json.dumps(response.json())


def test_sample_edit_page_with_nul_shows_the_message(owner_client, sample):
    response = owner_client.post(
        f"/datasets/samples/{sample.pk}/edit/",
        {"payload": '{"text": "a\\u0000b", "entities": []}'},
    )
    assert response.status_code in (200, 400)
    assert "contains a NUL character" in response.content.decode()


# --- imports and seeds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b'{"text": "a\\u0000b", "label": "x"}\n',  # escaped in JSONL
        b'{"text": "a\\ud800b", "label": "x"}\n',  # a lone surrogate
        ("[" * 5000 + "]" * 5000 + "\n").encode(),  # deep
    ],
)
def test_import_with_unstorable_rows_is_a_400_naming_the_line(api, content):
    upload = SimpleUploadedFile("t.jsonl", content)
    form = {"file": upload, "name": "tickets", "task_type": "classification"}
    response = api.post("/api/v1/datasets/import/", form)
    assert response.status_code == 400, response.content
    assert response.json()["file"][0].startswith("line 1")
    assert not DatasetVersion.objects.exists()


def test_csv_import_with_a_nul_is_a_400_naming_the_line(api):
    upload = SimpleUploadedFile("t.csv", b"text,label\nok,x\na\x00b,x\n")
    form = {"file": upload, "name": "tickets", "task_type": "classification"}
    response = api.post("/api/v1/datasets/import/", form)
    assert response.status_code == 400, response.content
    assert "line 3" in json.dumps(response.json())


def test_seeds_with_nul_are_a_400_naming_the_seed(api):
    body = {
        "name": "s",
        "task_type": "classification",
        "description": "d",
        "labels": ["x"],
        "seeds_jsonl": '{"text": "a\\u0000b", "label": "x"}',
    }
    response = api.post("/api/v1/specs/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "NUL" in json.dumps(response.json())


# --- query parameters --------------------------------------------------------------------


def test_nul_in_a_page_query_is_a_400_page_naming_it(owner, owner_client):
    add_version(owner.project, "tickets", [classification(0)])
    dataset = DatasetVersion.objects.get().dataset
    for url in (f"/datasets/{dataset.pk}/?q=a%00b", "/inference/?model_id=a%00b"):
        response = owner_client.get(url)
        assert response.status_code == 400, url
        assert "contains a NUL character" in response.content.decode()


def test_nul_in_an_api_query_is_a_json_400_naming_it(api):
    response = api.get("/api/v1/inferences/?model_id=a%00b")
    assert response.status_code == 400
    assert list(response.json()) == ["model_id"]


@pytest.mark.parametrize("path", ["/api/v1/inferences/", "/inferences"])
def test_an_offset_beyond_bigint_is_a_400(api, path):
    response = api.get(path, {"offset": "100000000000000000000"})
    assert response.status_code == 400
    assert "offset" in response.json()


def test_a_history_page_beyond_bigint_is_a_400_page(owner_client):
    response = owner_client.get("/inference/", {"page": "100000000000000000000"})
    assert response.status_code == 400
    assert "page must be a whole number" in response.content.decode()


def test_superscript_digits_are_not_numbers(api, owner, owner_client):
    # "²".isdigit() is True, int("²") raises: each was a 500.
    assert api.get("/generate/jobs/%C2%B2").status_code == 404
    add_version(owner.project, "tickets", [classification(0)])
    dataset = DatasetVersion.objects.get().dataset
    export = api.get(f"/api/v1/datasets/{dataset.pk}/export", {"version": "²"})
    assert export.status_code == 400
    assert export.json() == {"version": [export.json()["version"][0]]}
    page = owner_client.get("/runs/new/?again=%C2%B2")
    assert page.status_code == 400
    assert "again must be a whole number" in page.content.decode()


def test_switching_to_a_project_id_that_is_not_a_number_is_a_400(owner_client):
    response = owner_client.post("/projects/switch/", {"project_id": "abc"})
    assert response.status_code == 400
    assert "project_id must be a whole number" in response.content.decode()


def test_unknown_api_paths_are_json_404s(api):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404 and "detail" in response.json()
