import pytest
from django.test import Client

from apps.core.models import Role
from apps.datasets.models import Dataset, Sample
from tests.datasets.helpers import add_version, classification, ner
from tests.factories import MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(owner_key) -> Client:
    return Client(HTTP_X_API_KEY=owner_key)


@pytest.fixture
def tickets(owner) -> Dataset:
    add_version(owner.project, "tickets", [classification(i) for i in range(12)])
    add_version(owner.project, "tickets", [classification(i) for i in range(12, 15)])
    return Dataset.objects.get(name="tickets")


def test_list_and_detail(api, tickets):
    listing = api.get("/api/v1/datasets/").json()
    assert listing == [
        {
            "id": tickets.pk,
            "name": "tickets",
            "task_type": "classification",
            "latest_version": 2,
            "sample_count": 15,
            "created_at": listing[0]["created_at"],
        }
    ]
    detail = api.get(f"/api/v1/datasets/{tickets.pk}/").json()
    assert [(v["number"], v["added"], v["total"]) for v in detail["versions"]] == [
        (2, 3, 15),
        (1, 12, 12),
    ]
    assert {c["label"]: c["count"] for c in detail["label_counts"]} == {
        "billing": 5,
        "shipping": 5,
        "account": 5,
    }


def test_samples_follow_the_cursor(api, tickets):
    url = f"/api/v1/datasets/{tickets.pk}/samples/"
    seen, next_url = [], f"{url}?limit=4"
    while next_url:
        body = api.get(next_url).json()
        seen += [s["id"] for s in body["results"]]
        next_url = body["next"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 15
    first = api.get(url, {"limit": 1}).json()
    sample = Sample.objects.get(pk=first["results"][0]["id"])
    assert first["results"][0] == {
        "id": sample.pk,
        "dataset": tickets.pk,
        "version": 2,
        "run": None,
        "index": None,
        "payload": sample.payload,
        "text": sample.text,
        "labels": sample.labels,
        "lineage": sample.lineage,
        "review_state": "unreviewed",
        "created_at": sample.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert first["next_cursor"] == str(sample.pk)


def test_sample_filters(api, tickets):
    url = f"/api/v1/datasets/{tickets.pk}/samples/"
    assert len(api.get(url, {"version": 1}).json()["results"]) == 12
    assert len(api.get(url, {"label": "billing"}).json()["results"]) == 5
    assert len(api.get(url, {"q": "courier"}).json()["results"]) == 5
    assert len(api.get(url, {"review_state": "accepted"}).json()["results"]) == 0


@pytest.mark.parametrize("limit", ["0", "501", "x", "-3"])
def test_limit_out_of_range_is_400_naming_limit(api, tickets, limit):
    response = api.get(f"/api/v1/datasets/{tickets.pk}/samples/", {"limit": limit})
    assert response.status_code == 400
    assert list(response.json()) == ["limit"]


def test_other_bad_parameters_are_400_naming_them(api, tickets):
    url = f"/api/v1/datasets/{tickets.pk}/samples/"
    assert list(api.get(url, {"version": 3}).json()) == ["version"]
    assert list(api.get(url, {"review_state": "maybe"}).json()) == ["review_state"]
    assert list(api.get(url, {"cursor": "abc"}).json()) == ["cursor"]
    assert list(api.get(url, {"q": "x" * 201}).json()) == ["q"]
    assert api.get(url, {"limit": 500}).status_code == 200


def test_patch_reviews_and_edits(api, owner):
    add_version(owner.project, "people", [ner(0)], task_type="ner")
    sample = Sample.objects.get()
    url = f"/api/v1/samples/{sample.pk}/"
    response = api.patch(url, {"review_state": "accepted"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["review_state"] == "accepted"

    bad = {"payload": {"text": "Bob in Rome", "entities": [{"text": "Paris", "label": "LOC"}]}}
    response = api.patch(url, bad, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "payload": ["Entity not found in the text: 'Paris' is not in the text"]
    }

    good = {"payload": {"text": "Bob in Rome", "entities": [{"text": "Rome", "label": "LOC"}]}}
    response = api.patch(url, good, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["review_state"] == "edited"
    assert response.json()["payload"]["entities"][0]["start"] == 7

    both = {"review_state": "accepted", "payload": good["payload"]}
    assert api.patch(url, both, content_type="application/json").status_code == 400
    edited = {"review_state": "edited"}
    assert api.patch(url, edited, content_type="application/json").status_code == 400


def test_viewer_cannot_patch_or_import_but_can_read(owner, tickets):
    viewer = Client(
        HTTP_X_API_KEY=api_key_for(MembershipFactory(project=owner.project, role=Role.VIEWER))
    )
    sample = Sample.objects.filter(dataset=tickets).first()
    response = viewer.patch(
        f"/api/v1/samples/{sample.pk}/",
        {"review_state": "rejected"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert viewer.post("/api/v1/datasets/import/", {"name": "x"}).status_code == 403
    assert viewer.get(f"/api/v1/datasets/{tickets.pk}/samples/").status_code == 200
    sample.refresh_from_db()
    assert sample.review_state == "unreviewed"


def test_other_projects_are_404(api, tickets):
    other = MembershipFactory()
    add_version(other.project, "secret", [classification(i) for i in range(100, 102)])
    secret = Dataset.objects.get(name="secret")
    sample = Sample.objects.filter(dataset=secret).first()
    assert api.get(f"/api/v1/datasets/{secret.pk}/").status_code == 404
    assert api.get(f"/api/v1/datasets/{secret.pk}/samples/").status_code == 404
    assert api.get(f"/api/v1/samples/{sample.pk}/").status_code == 404
    response = api.patch(
        f"/api/v1/samples/{sample.pk}/",
        {"review_state": "rejected"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert [d["name"] for d in api.get("/api/v1/datasets/").json()] == ["tickets"]


def test_openapi_schema_documents_the_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/datasets/",
        "/api/v1/datasets/{dataset_id}/samples/",
        "/api/v1/datasets/{dataset_id}/export",
        "/api/v1/datasets/import/",
        "/api/v1/samples/{sample_id}/",
        "/api/v1/exports/{job_id}/",
    ]:
        assert path in paths, path
    params = {
        p["name"] for p in paths["/api/v1/datasets/{dataset_id}/samples/"]["get"]["parameters"]
    }
    assert {"version", "label", "run", "review_state", "q", "cursor", "limit"} <= params


def test_a_version_the_dataset_lacks_is_400_naming_version_and_range(api, tickets):
    def message(number: object) -> dict[str, list[str]]:
        return {"version": [f"Dataset tickets has no version {number}; its versions are 1–2."]}

    samples = api.get(f"/api/v1/datasets/{tickets.pk}/samples/", {"version": 9})
    assert (samples.status_code, samples.json()) == (400, message(9))
    stream_url = f"/api/v1/datasets/{tickets.pk}/export"
    for version in (9, 0):  # 0 used to stream the latest version
        stream = api.get(stream_url, {"format": "jsonl", "version": version})
        assert (stream.status_code, stream.json()) == (400, message(version))
    job = api.post(
        f"/api/v1/datasets/{tickets.pk}/exports/",
        {"format": "csv", "version": 9},
        content_type="application/json",
    )
    assert (job.status_code, job.json()) == (400, message(9))
    assert api.get(stream_url, {"format": "jsonl", "version": 2}).status_code == 200
