"""Label-existing API and labelling jobs.

Most tests replace the gateway's `extract` with a scripted coroutine (random latencies,
failures on demand) so that order, limits and chunking are tested exactly; one test goes
through the real `extract` to the fake OpenAI server.
"""

import asyncio
import hashlib
import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.core import services as core_services
from apps.core.llm import ProviderUnreachable
from apps.core.models import Role
from apps.datasets.models import DatasetVersion, Sample, VersionSource
from apps.inference import labelling_jobs
from apps.inference.models import Inference, LabellingJob, LabellingStatus
from tests.factories import MembershipFactory, ProviderFactory, api_key_for

pytestmark = pytest.mark.django_db

KNOWN = {"Ada": "person", "Grace": "person", "Paris": "city", "Berlin": "city", "Acme": "org"}
NER_URL = "/generate/ner/label-existing"
CLS_URL = "/generate/classification/label-existing"


async def scripted_extract(
    *, provider: Any, upstream_model: str, text: str, schema: dict, threshold: float
) -> dict[str, Any]:
    """Entities from a fixed word list, a class from keywords; latency from the text, so
    answers finish out of order; texts containing FAIL fail like an unreachable upstream."""
    await asyncio.sleep(int(hashlib.sha256(text.encode()).hexdigest()[:2], 16) / 255 * 0.05)
    if "FAIL" in text:
        raise ProviderUnreachable("The provider could not be reached.")
    if "entities" in schema:
        wanted = schema["entities"]
        entities: list[dict[str, Any]] = []
        for word, label in KNOWN.items():
            start = text.find(word)
            if start >= 0 and label in wanted:
                entities.append(
                    {
                        "text": word,
                        "label": label,
                        "start": start,
                        "end": start + len(word),
                        "confidence": 0.9,
                    }
                )
        entities.sort(key=lambda e: e["start"])
        return {"entities": entities, "usage": {"input_tokens": 10, "output_tokens": 5}}
    spec = schema["classifications"][0]
    label = "billing" if "invoice" in text else "bug"
    if spec.get("multi_label"):
        labels = [label] + (["urgent"] if "now" in text and "urgent" in spec["labels"] else [])
        return {"classifications": [{"task": spec["task"], "labels": labels, "confidence": 0.8}]}
    return {"classifications": [{"task": spec["task"], "label": label, "confidence": 0.8}]}


@pytest.fixture
def fake_extract(monkeypatch):
    from apps.inference.gateway import extraction

    monkeypatch.setattr(extraction, "extract", scripted_extract)
    return scripted_extract


@pytest.fixture
def provider(owner):
    return ProviderFactory(project=owner.project, name="fake", default_model="fake-gpt")


@pytest.fixture
def api(owner_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=owner_key)
    return client


def _post(api: APIClient, url: str, body: dict[str, Any]):
    return api.post(url, data=json.dumps(body), content_type="application/json")


# --- label-existing --------------------------------------------------------------------


def test_ner_results_keep_the_order_given_and_are_recorded(api, provider, fake_extract, owner):
    texts = [f"Text {i}: Ada met Grace in {'Paris' if i % 2 else 'Berlin'}." for i in range(30)]
    response = _post(
        api, NER_URL, {"labels": ["person", "city"], "texts": texts, "model_id": "fake/fake-gpt"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["text"] for r in body["results"]] == texts
    first = body["results"][0]
    assert [(e["text"], e["label"]) for e in first["entities"]] == [
        ("Ada", "person"),
        ("Grace", "person"),
        ("Berlin", "city"),
    ]
    assert all(texts[0][e["start"] : e["end"]] == e["text"] for e in first["entities"])
    assert body["model_id"] == "fake/fake-gpt"
    assert body["usage"]["input_tokens"] == 300 and body["usage"]["calls"] == 30
    rows = Inference.objects.filter(project=owner.project, task="label_ner")
    assert rows.count() == 30
    recorded = rows.get(pk=first["inference_id"])
    assert recorded.input_text == texts[0] and recorded.output["entities"][0]["text"] == "Ada"


def test_labels_not_asked_for_are_left_out(api, provider, fake_extract):
    response = _post(
        api,
        NER_URL,
        {"labels": ["city"], "texts": ["Ada lives in Paris."], "model_id": "fake/fake-gpt"},
    )
    assert response.json()["results"][0]["entities"] == [
        {"text": "Paris", "label": "city", "start": 13, "end": 18, "confidence": 0.9}
    ]


def test_classification_single_and_multi_label(api, provider, fake_extract, owner):
    texts = ["Where is my invoice?", "The app crashes now", "Login button broken"]
    body = {"labels": ["billing", "bug", "urgent"], "texts": texts, "model_id": "fake/fake-gpt"}
    single = _post(api, CLS_URL, body).json()
    assert [(r["text"], r["label"]) for r in single["results"]] == [
        (texts[0], "billing"),
        (texts[1], "bug"),
        (texts[2], "bug"),
    ]
    assert single["results"][0]["confidence"] == 0.8
    multi = _post(api, CLS_URL, {**body, "multi_label": True}).json()
    assert multi["results"][1]["labels"] == ["bug", "urgent"]
    assert Inference.objects.filter(task="label_classification").count() == 6


def test_default_model_is_the_embedded_one(api, fake_extract, owner):
    core_services.provider_ensure_embedded(project=owner.project)
    body = _post(api, NER_URL, {"labels": ["city"], "texts": ["Paris"]}).json()
    assert body["model_id"].startswith("embedded/")


def test_one_failing_text_keeps_the_others_every_failure_is_502(api, provider, fake_extract):
    body = {
        "labels": ["city"],
        "texts": ["Paris", "FAIL here", "Berlin"],
        "model_id": "fake/fake-gpt",
    }
    response = _post(api, NER_URL, body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert "could not be reached" in results[1]["error"]
    assert results[2]["entities"][0]["text"] == "Berlin"
    assert Inference.objects.filter(status="error").count() == 1
    all_fail = _post(api, NER_URL, {**body, "texts": ["FAIL 1", "FAIL 2"]})
    assert all_fail.status_code == 502


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"texts": []}, "texts"),
        ({"texts": ["a text"] * 1001}, "texts"),
        ({"texts": ["x" * 20_001]}, "texts"),
        ({"texts": ["ok", "   "]}, "texts"),
        ({"texts": "not a list"}, "texts"),
        ({"labels": []}, "labels"),
        ({"labels": [f"label{i}" for i in range(201)]}, "labels"),
        ({"labels": ["city", ""]}, "labels"),
        ({"threshold": 2}, "threshold"),
    ],
)
def test_limits_answer_400_naming_the_field(api, provider, fake_extract, change, field):
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "fake/fake-gpt", **change}
    response = _post(api, NER_URL, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Inference.objects.exists()


def test_a_text_of_exactly_20000_characters_and_1000_texts_pass(api, provider, fake_extract):
    body = {
        "labels": ["city"],
        "texts": ["Paris " * 3333 + "xx"] + ["Berlin"] * 999,
        "model_id": "fake/fake-gpt",
    }
    assert len(body["texts"][0]) == 20_000
    response = _post(api, NER_URL, body)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000


def test_unknown_model_is_404(api, provider, fake_extract):
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "nope/missing"}
    assert _post(api, NER_URL, body).status_code == 404


def test_auth_bearer_viewer_and_rate_limit(provider, fake_extract, owner, monkeypatch):
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "fake/fake-gpt"}
    assert _post(APIClient(), NER_URL, body).status_code == 401
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(owner)}")
    assert _post(bearer, CLS_URL, {**body, "labels": ["bug", "billing"]}).status_code == 200

    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    as_viewer = APIClient()
    as_viewer.credentials(HTTP_X_API_KEY=api_key_for(viewer))
    assert _post(as_viewer, NER_URL, body).status_code == 403

    monkeypatch.setattr("apps.runs.pioneer.GENERATE_PER_MINUTE", 2)
    limited = APIClient()
    limited.credentials(HTTP_X_API_KEY=api_key_for(MembershipFactory(project=owner.project)))
    assert _post(limited, NER_URL, body).status_code == 200
    assert _post(limited, NER_URL, body).status_code == 200
    third = _post(limited, NER_URL, body)
    assert third.status_code == 429
    assert int(third["Retry-After"]) >= 1


def test_through_the_real_gateway_to_a_fake_openai_server(owner, fake_openai, allow_loopback):
    """No scripted extract: the gateway's extraction calls an OpenAI-compatible server."""
    ProviderFactory(
        project=owner.project, name="oai", base_url=fake_openai.base_url, default_model="fake-gpt"
    )

    def responder(data: dict[str, Any]) -> str:
        text = data["messages"][-1]["content"]
        if "entities" in json.dumps(data.get("response_format")):
            found = [{"text": w, "label": KNOWN[w], "confidence": 0.9} for w in KNOWN if w in text]
            return json.dumps({"entities": found})
        label = "billing" if "invoice" in text else "bug"
        return json.dumps({"classifications": {"label": {"label": label, "confidence": 0.7}}})

    fake_openai.responder = responder
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(owner))
    texts = ["Ada moved to Berlin.", "Grace stayed in Paris.", "Nothing here."]
    ner = _post(client, NER_URL, {"labels": ["person", "city"], "texts": texts, "model_id": "oai"})
    assert ner.status_code == 200, ner.content
    results = ner.json()["results"]
    assert [[(e["text"], e["start"]) for e in r["entities"]] for r in results] == [
        [("Ada", 0), ("Berlin", 13)],
        [("Grace", 0), ("Paris", 16)],
        [],
    ]
    assert ner.json()["usage"]["input_tokens"] > 0
    cls = _post(
        client, CLS_URL, {"labels": ["billing", "bug"], "texts": ["My invoice?"], "model_id": "oai"}
    )
    assert cls.json()["results"][0]["label"] == "billing"
    assert len(fake_openai.requests) == 4
    assert Inference.objects.filter(provider__name="oai").count() == 4


# --- labelling jobs --------------------------------------------------------------------


def _job(owner, texts: list[str], **kwargs: Any) -> LabellingJob:
    params = {
        "task": "ner",
        "labels": ["person", "city"],
        "dataset_name": "people",
        "model_id": "fake/fake-gpt",
        **kwargs,
    }
    return labelling_jobs.labelling_job_create(
        membership=owner,
        texts=texts,
        lines=list(range(1, len(texts) + 1)),
        user=owner.user,
        **params,
    )


def test_job_runs_in_chunks_and_writes_a_dataset_version(owner, provider, fake_extract):
    texts = [f"Note {i}: Ada flew to {'Paris' if i % 3 else 'Berlin'}." for i in range(120)]
    texts[7] = "Note 7: FAIL this one"
    job = _job(owner, texts)
    assert job.status == LabellingStatus.QUEUED and job.dataset_version == 1
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.added) == (LabellingStatus.RUNNING, 50, 1, 49)
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=100)
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 120, 119)
    version = DatasetVersion.objects.get(dataset=job.dataset, number=1)
    assert version.source == VersionSource.LABELLING and version.added_count == 119
    sample = Sample.objects.get(dataset=job.dataset, index=1)
    assert sample.payload == {
        "text": texts[1],
        "entities": [
            {"text": "Ada", "label": "person", "start": 8, "end": 11},
            {"text": "Paris", "label": "city", "start": 20, "end": 25},
        ],
    }
    assert sample.labels == ["city", "person"]
    assert sample.lineage["labelling_job_id"] == job.pk and sample.lineage["line"] == 2
    assert Inference.objects.get(pk=sample.lineage["inference_id"]).task == "label_ner"


def test_chunks_resume_from_the_checkpoint_and_redelivery_changes_nothing(
    owner, provider, fake_extract
):
    texts = [f"Entry {i} from Grace in Berlin" for i in range(70)]
    job = _job(owner, texts)
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    # A redelivered first chunk finds the checkpoint moved on and does nothing.
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    assert Sample.objects.filter(dataset=job.dataset).count() == 50
    assert Inference.objects.filter(task="label_ner").count() == 50
    # A worker died after committing chunk 0: the task for start=50 picks up from there.
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    job.refresh_from_db()
    assert (job.status, job.done, job.added) == (LabellingStatus.SUCCEEDED, 70, 70)
    assert sorted(Sample.objects.filter(dataset=job.dataset).values_list("index", flat=True)) == (
        list(range(70))
    )


def test_the_task_chains_the_next_chunk_on_commit(
    owner, provider, fake_extract, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.inference import tasks

    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.labelling_chunk_task, "delay", lambda *args: sent.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(owner, [f"Paris {i}" for i in range(60)])
    assert sent == [(job.pk, 0)]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.labelling_chunk_task(job.pk, 0)
    assert sent[-1] == (job.pk, 50)


def test_stale_jobs_are_requeued_from_their_checkpoint(
    owner, provider, fake_extract, monkeypatch, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.inference import tasks

    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.labelling_chunk_task, "delay", lambda *args: sent.append(args))
    job = _job(owner, [f"Paris {i}" for i in range(80)])
    labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    fresh = _job(owner, ["Berlin"], dataset_name="other")
    old = timezone.now() - timedelta(minutes=10)
    LabellingJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.labelling_reaper_task() == [job.pk]
    assert sent == [(job.pk, 50)]
    assert fresh.pk not in [job_id for job_id, _ in sent]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.labelling_reaper_task() == []  # its heartbeat was just refreshed


def test_cancel_stops_between_chunks_and_keeps_samples(owner, provider, fake_extract):
    job = _job(owner, [f"Ada {i} in Paris" for i in range(120)])
    assert labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    labelling_jobs.labelling_job_cancel(membership=owner, job=job)
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=50)
    job.refresh_from_db()
    assert job.status == LabellingStatus.CANCELLED and job.added == 50
    assert DatasetVersion.objects.get(dataset=job.dataset).added_count == 50


def test_a_chunk_where_every_call_fails_fails_the_job(owner, provider, fake_extract):
    job = _job(owner, [f"FAIL {i}" for i in range(10)])
    assert not labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    job.refresh_from_db()
    assert job.status == LabellingStatus.FAILED and "could not be reached" in job.error


def test_job_checks_model_and_dataset_type(owner, provider, fake_extract):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as missing:
        _job(owner, ["Paris"], model_id="nope/x")
    assert "model_id" in missing.value.message_dict
    _job(owner, ["Paris"], dataset_name="mixed")
    with pytest.raises(ValidationError) as mixed:
        _job(owner, ["Paris"], dataset_name="mixed", task="classification", labels=["a"])
    assert "dataset_name" in mixed.value.message_dict


# --- the "Label a file" page -----------------------------------------------------------


def _upload(client: Client, name: str, content: bytes, **fields: Any):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "task": "ner",
        "labels": "person, city",
        "dataset_name": "uploaded",
        "model_id": "fake/fake-gpt",
        "threshold": "0.5",
        **fields,
        "file": SimpleUploadedFile(name, content),
    }
    return client.post("/inference/label/", data)


@pytest.mark.parametrize(
    ("name", "content", "texts"),
    [
        ("notes.txt", b"Ada in Paris\n\nGrace in Berlin\n", ["Ada in Paris", "Grace in Berlin"]),
        (
            "notes.jsonl",
            b'{"text": "Ada in Paris", "id": 1}\n{"text": "Grace"}\n',
            ["Ada in Paris", "Grace"],
        ),
        ("notes.csv", b'id,text\n1,"Ada, in Paris"\n2,Grace\n', ["Ada, in Paris", "Grace"]),
    ],
)
def test_upload_formats_create_a_job(owner_client, owner, provider, name, content, texts):
    response = _upload(owner_client, name, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = LabellingJob.objects.get(project=owner.project)
    assert job.texts == texts and job.labels == ["person", "city"]
    assert response["Location"] == f"/inference/label/{job.pk}/"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", b'{"text": "ok"}\n{"text": "x"\n', "Line 2: not valid JSON"),
        ("bad.jsonl", b'{"text": "ok"}\n\n{"body": "x"}\n', "Line 3: expected an object with a"),
        ("bad.csv", b"id,body\n1,x\n", "Line 1: no `text` column"),
        ("long.txt", b"short\n" + b"y" * 20_001 + b"\n", "Line 2: the text has 20,001 characters"),
        ("empty.txt", b"\n\n", "The file holds no texts."),
        ("latin.txt", b"ok\ncaf\xe9\n", "Line 2: the file is not UTF-8 text."),
    ],
)
def test_upload_problems_are_shown_inline_with_line_numbers(
    owner_client, provider, name, content, message
):
    response = _upload(owner_client, name, content)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not LabellingJob.objects.exists()


def test_upload_form_errors_for_labels_and_model(owner_client, provider):
    response = _upload(owner_client, "a.txt", b"Paris\n", labels=" , ", model_id="nope/x")
    html = response.content.decode()
    assert "labels must be a list of 1 to 200 names." in html


def test_job_page_polls_only_while_unfinished(owner_client, owner, provider, fake_extract):
    job = _job(owner, ["Ada in Paris", "Grace in Berlin"])
    page = owner_client.get(f"/inference/label/{job.pk}/")
    assert page.status_code == 200 and 'hx-trigger="every 2s"' in page.content.decode()
    labelling_jobs.labelling_chunk_execute(job_id=job.pk, start=0)
    fragment = owner_client.get(f"/inference/label/{job.pk}/", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and "every 2s" not in html
    assert f"/datasets/{job.dataset_id}/?version=1" in html and "Succeeded" in html
    # The same texts again add nothing, and the page says why.
    again = _job(owner, ["Ada in Paris", "Grace in Berlin"])
    labelling_jobs.labelling_chunk_execute(job_id=again.pk, start=0)
    html = owner_client.get(f"/inference/label/{again.pk}/").content.decode()
    assert '<strong class="num">2</strong><small>already in the dataset</small>' in html
    assert '<strong class="num" id="job-added">0</strong>' in html


def test_viewers_cannot_label_and_other_projects_jobs_are_404(owner, provider, fake_extract):
    job = _job(owner, ["Paris"])
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert _upload(client, "a.txt", b"Paris\n").status_code == 403
    assert client.post(f"/inference/label/{job.pk}/cancel/").status_code == 403
    assert client.get(f"/inference/label/{job.pk}/").status_code == 200
    stranger = Client()
    stranger.force_login(MembershipFactory().user)
    assert stranger.get(f"/inference/label/{job.pk}/").status_code == 404
