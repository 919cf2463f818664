"""`/api/v1/labelling-jobs/`: start, follow, list and cancel labelling jobs with an API key."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.models import Role
from apps.datasets.models import Dataset, DatasetVersion, Sample
from apps.inference import labelling_jobs
from apps.inference.models import LabellingJob, LabellingStatus
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.inference.labelling.helpers import drive, new_job, post_json, step

pytestmark = pytest.mark.django_db

URL = "/api/v1/labelling-jobs/"
BODY = {
    "task": "ner",
    "labels": ["person", "city"],
    "texts": ["Ada lives in Paris."],
    "dataset_name": "people",
    "model_id": "fake/fake-gpt",
}


def client_for(membership) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(membership))
    return client


def start(api: APIClient, capture, **change: Any) -> dict[str, Any]:
    with capture(execute=True):
        response = post_json(api, URL, {**BODY, **change})
    assert response.status_code == 202, response.content
    return response.json()


def test_a_job_started_with_a_key_labels_its_texts_into_a_dataset_version(
    api, owner, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    texts = [f"Note {i}: Grace flew to {'Paris' if i % 2 else 'Berlin'}." for i in range(60)]
    job = start(api, django_capture_on_commit_callbacks, texts=texts)
    assert (job["status"], job["task"], job["done"], job["total"]) == ("QUEUED", "ner", 0, 60)
    assert job["dataset_name"] == "people" and job["dataset_version"] == 1
    assert job["url"] == f"http://testserver{URL}{job['id']}/"
    assert job["finished_at"] is None and job["created_at"]
    assert sent == [("labelling", job["id"], 0)]  # enqueued once the job's row was committed

    drive(job["id"])
    done = api.get(job["url"]).json()
    assert (done["status"], done["done"], done["total"], done["added"]) == (
        LabellingStatus.SUCCEEDED,
        60,
        60,
        60,
    )
    assert done["finished_at"] and done["error"] == ""
    assert done["dataset_id"] == Dataset.objects.get(project=owner.project, name="people").pk
    sample = Sample.objects.get(dataset_id=done["dataset_id"], version=1, index=3)
    assert sample.payload["entities"] == [
        {"text": "Grace", "label": "person", "start": 8, "end": 13},
        {"text": "Paris", "label": "city", "start": 22, "end": 27},
    ]
    assert sample.labels == ["city", "person"]
    assert sample.lineage["labelling_job_id"] == job["id"] and sample.lineage["line"] == 4
    assert done["samples_url"].endswith(f"/datasets/{done['dataset_id']}/samples/?version=1")
    listed = api.get(f"{done['samples_url']}&limit=100").json()["results"]
    assert sorted(s["text"] for s in listed) == sorted(texts)


def test_a_classification_job_keeps_multi_label(
    api, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    job = start(
        api,
        django_capture_on_commit_callbacks,
        task="classification",
        labels=["billing", "bug", "urgent"],
        texts=["Where is my invoice?", "The app crashes now"],
        dataset_name="tickets",
        multi_label=True,
        threshold=0.3,
    )
    assert (job["multi_label"], job["threshold"]) == (True, 0.3)
    drive(job["id"])
    samples = Sample.objects.filter(dataset_id=job["dataset_id"]).order_by("index")
    assert [s.labels for s in samples] == [["billing"], ["bug", "urgent"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"texts": []}, "texts"),
        ({"texts": "one text"}, "texts"),
        ({"texts": ["a text"] * (labelling_jobs.MAX_FILE_TEXTS + 1)}, "texts"),
        ({"texts": ["x" * 20_001]}, "texts"),
        ({"labels": []}, "labels"),
        ({"labels": [f"label{i}" for i in range(201)]}, "labels"),
        ({"task": "summarise"}, "task"),
        ({"task": None}, "task"),
        ({"dataset_name": ""}, "dataset_name"),
        ({"dataset_name": "   "}, "dataset_name"),
        ({"dataset_name": "d" * 121}, "dataset_name"),
        ({"threshold": 1.5}, "threshold"),
        ({"model_id": "nope/missing"}, "model_id"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_creates_nothing(
    api, provider, fake_extract, sent, django_capture_on_commit_callbacks, change, field
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(api, URL, {**BODY, **change})
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not LabellingJob.objects.exists()
    assert not Dataset.objects.exists() and not DatasetVersion.objects.exists()
    assert sent == []


def test_errors_name_the_texts_index_and_limits_are_the_jobs_not_label_existings(
    api, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    blank = post_json(api, URL, {**BODY, "texts": ["ok", "  "]})
    assert blank.json() == {"texts": ["texts[1] must be a non-empty string."]}
    task_mismatch = {**BODY, "task": "classification", "labels": ["a"]}
    start(api, django_capture_on_commit_callbacks)
    assert "dataset_name" in post_json(api, URL, task_mismatch).json()
    # label-existing stops at 1,000 texts; a job takes up to MAX_FILE_TEXTS.
    most = start(
        api,
        django_capture_on_commit_callbacks,
        texts=[f"text {i}" for i in range(labelling_jobs.MAX_FILE_TEXTS)],
    )
    assert most["total"] == labelling_jobs.MAX_FILE_TEXTS


def test_a_viewer_can_follow_jobs_but_not_start_or_cancel_them(
    owner, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    job = new_job(owner, ["Ada in Paris"])
    viewer = client_for(MembershipFactory(project=owner.project, role=Role.VIEWER))
    assert post_json(viewer, URL, BODY).status_code == 403
    assert post_json(viewer, URL, {}).status_code == 403  # before any input check
    assert viewer.post(f"{URL}{job.pk}/cancel/").status_code == 403
    assert viewer.get(f"{URL}{job.pk}/").json()["status"] == "QUEUED"
    assert [j["id"] for j in viewer.get(URL).json()] == [job.pk]
    assert LabellingJob.objects.count() == 1
    assert not LabellingJob.objects.get().cancel_requested
    assert APIClient().get(URL).status_code == 401


def test_another_projects_job_is_404(owner, provider, fake_extract):
    job = new_job(owner, ["Ada in Paris"])
    stranger = client_for(MembershipFactory())
    assert stranger.get(f"{URL}{job.pk}/").status_code == 404
    assert stranger.post(f"{URL}{job.pk}/cancel/").status_code == 404
    assert stranger.get(f"{URL}999999/").status_code == 404
    assert stranger.get(URL).json() == []
    job.refresh_from_db()
    assert job.status == LabellingStatus.QUEUED and not job.cancel_requested


def test_cancel_stops_a_running_job_after_the_next_chunk(
    api, provider, fake_extract, sent, django_capture_on_commit_callbacks
):
    texts = [f"Ada {i} in Paris" for i in range(120)]
    job = start(api, django_capture_on_commit_callbacks, texts=texts)
    assert step(job["id"]).kind == "continue"
    cancelled = api.post(f"{URL}{job['id']}/cancel/")
    assert cancelled.status_code == 202
    assert cancelled.json()["cancel_requested"] and cancelled.json()["status"] == "RUNNING"
    assert step(job["id"]).kind == "cancelled"
    ended = api.get(job["url"]).json()
    assert (ended["status"], ended["done"], ended["added"]) == ("CANCELLED", 50, 50)
    assert ended["finished_at"] and ended["samples_url"]
    # Cancelling again, or a queued job, answers 202 too; a queued one stops at once.
    assert api.post(f"{URL}{job['id']}/cancel/").json()["status"] == "CANCELLED"
    queued = start(api, django_capture_on_commit_callbacks, dataset_name="other")
    assert api.post(f"{URL}{queued['id']}/cancel/").json()["status"] == "CANCELLED"


def test_the_list_is_the_projects_jobs_newest_first_and_bounded(owner, provider, fake_extract):
    ids = [new_job(owner, [f"Ada {i}"], dataset_name=f"set {i}").pk for i in range(21)]
    stranger = MembershipFactory()
    ProviderFactory(project=stranger.project, name="fake", default_model="fake-gpt")
    new_job(stranger, ["Paris"])  # newer than all of them, and not the owner's
    ids.append(new_job(owner, ["Ada again"], dataset_name="set 21").pk)
    api = client_for(owner)
    newest = api.get(URL).json()
    assert [j["id"] for j in newest] == ids[::-1][:20]  # 20 by default
    assert newest[0]["url"].endswith(f"{URL}{ids[-1]}/")
    assert [j["id"] for j in api.get(URL, {"limit": 3}).json()] == ids[::-1][:3]
    older = api.get(URL, {"limit": 100, "before": ids[2]}).json()
    assert [j["id"] for j in older] == [ids[1], ids[0]]
    for limit in (0, 101, "many"):
        response = api.get(URL, {"limit": limit})
        assert response.status_code == 400 and "limit" in response.json()


def test_the_endpoints_are_documented(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    def codes(path: str, method: str) -> list[str]:
        return sorted(schema["paths"][path][method]["responses"])

    assert codes(URL, "post") == ["202", "400", "401", "403", "413"]
    assert codes(URL, "get") == ["200", "400", "401"]
    assert codes(f"{URL}{{job_id}}/", "get") == ["200", "401", "404"]
    assert codes(f"{URL}{{job_id}}/cancel/", "post") == ["202", "401", "403", "404"]
    assert schema["paths"][URL]["post"]["tags"] == ["labelling-jobs"]
    job = schema["components"]["schemas"]["LabellingJobOutput"]["properties"]
    assert {"status", "done", "total", "dataset_version", "url", "samples_url"} <= set(job)


def test_every_problem_of_a_request_is_named_at_once(api, provider, fake_extract, sent):
    bad = {"labels": [], "texts": [], "dataset_name": " ", "model_id": "nowhere/none"}
    response = post_json(api, URL, {**BODY, **bad})
    assert response.status_code == 400
    assert set(response.json()) == {"labels", "texts", "dataset_name", "model_id"}
    assert not LabellingJob.objects.exists() and sent == []
