"""History API: filters, detail, feedback (validation, changing a verdict, tenancy)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.core.models import Membership, Role
from apps.inference.models import Feedback, Inference
from apps.inference.recording import inference_record
from tests.factories import MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db

TEXT = "Ada met Grace in Paris."


def record(project: Any, **fields: Any) -> Inference:
    defaults: dict[str, Any] = {
        "model_id": "fake/fake-gpt",
        "protocol": "native",
        "task": "extract",
        "request": {"text": TEXT},
        "input_text": TEXT,
        "output": {
            "entities": [{"text": "Ada", "label": "person", "start": 0, "end": 3}],
            "classifications": [],
            "structures": {},
            "relations": [],
        },
    }
    return inference_record(project=project, **{**defaults, **fields})


@pytest.fixture
def caller(owner: Membership, owner_key: str) -> tuple[Membership, Client]:
    return owner, Client(HTTP_X_API_KEY=owner_key)


def test_list_filters_and_pagination(caller):
    owner, client = caller
    project = owner.project
    first = record(project)
    record(project, task="chat", protocol="openai", output=None, output_text="hi")
    record(project, model_id="support", training_job_id="job-7")
    record(MembershipFactory().project)  # another project's row never shows
    everything = client.get("/inferences").json()
    models = [r["model_id"] for r in everything["results"]]
    assert models == ["support", "fake/fake-gpt", "fake/fake-gpt"]
    assert everything["has_more"] is False
    assert everything["results"][-1]["id"] == first.pk  # newest first
    assert [r["task"] for r in client.get("/inferences?task=chat").json()["results"]] == ["chat"]
    by_model = client.get("/inferences?model_id=support").json()["results"]
    assert [r["training_job_id"] for r in by_model] == ["job-7"]
    by_job = client.get("/inferences?training_job_id=job-7").json()["results"]
    assert len(by_job) == 1
    page = client.get("/inferences?limit=1&offset=1").json()
    assert len(page["results"]) == 1 and page["has_more"] is True
    mine = client.get(f"/inferences?project_id={project.pk}").json()["results"]
    assert len(mine) == 3
    row = mine[0]
    assert set(row) >= {"id", "model_id", "task", "request", "output", "usage", "verdict"}


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "offset=-1", "limit=x", "task=bogus", "status=bogus"]
)
def test_bad_filters_are_400(caller, query):
    _, client = caller
    response = client.get(f"/inferences?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_another_project_id_is_404(caller):
    _, client = caller
    other = MembershipFactory().project
    assert client.get(f"/inferences?project_id={other.pk}").status_code == 404


def test_detail_and_other_projects_rows(caller):
    owner, client = caller
    mine = record(owner.project)
    theirs = record(MembershipFactory().project)
    detail = client.get(f"/inferences/{mine.pk}")
    assert detail.status_code == 200 and detail.json()["input_text"] == TEXT
    assert client.get(f"/inferences/{theirs.pk}").status_code == 404
    assert client.get("/api/v1/inferences/").status_code == 200  # also under /api/v1/


def feedback(client: Client, inference: Inference, body: dict[str, Any]) -> Any:
    return client.post(
        f"/inferences/{inference.pk}/feedback", body, content_type="application/json"
    )


def test_correct_then_incorrect_with_correction_last_verdict_counts(caller):
    owner, client = caller
    row = record(owner.project)
    assert feedback(client, row, {"verdict": "correct"}).status_code == 201
    corrected = {
        "entities": [
            {"text": "Ada", "label": "person", "start": 0, "end": 3},
            {"text": "Grace", "label": "person", "start": 8, "end": 13},
            {"text": "Paris", "label": "city", "start": 17, "end": 22},
        ]
    }
    response = feedback(client, row, {"verdict": "incorrect", "corrected_output": corrected})
    assert response.status_code == 201, response.json()
    assert response.json()["verdict"] == "incorrect"
    row.refresh_from_db()
    assert row.verdict == "incorrect"
    assert [e["text"] for e in row.corrected_output["entities"]] == ["Ada", "Grace", "Paris"]
    assert list(row.feedback.values_list("verdict", flat=True)) == ["incorrect", "correct"]
    assert row.feedback.first().api_key is not None
    listed = client.get("/inferences").json()["results"][0]
    assert listed["verdict"] == "incorrect"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"verdict": "incorrect"}, "corrected_output", "needs the corrected_output"),
        ({"verdict": "maybe"}, "verdict", "valid choice"),
        ({"verdict": "correct", "corrected_output": {"entities": []}}, "corrected_output",
         "Only an 'incorrect'"),
        ({"verdict": "incorrect", "corrected_output": {"entities": [
            {"text": "Pariss", "label": "city", "start": 17, "end": 22}]}},
         "corrected_output.entities[0]", "'Paris', not 'Pariss'"),
        ({"verdict": "incorrect", "corrected_output": {"entities": [
            {"text": "Paris", "label": "city", "start": 17, "end": 99}]}},
         "corrected_output.entities[0]", "outside the text"),
        ({"verdict": "incorrect", "corrected_output": {"entities": [
            {"text": "Ada", "start": 0, "end": 3}]}},
         "corrected_output.entities[0].label", "non-empty string"),
        ({"verdict": "incorrect", "corrected_output": {"answer": 1}},
         "corrected_output.answer", "not part of an extraction output"),
        ({"verdict": "incorrect", "corrected_output": "free text"},
         "corrected_output", "must be an object"),
    ],
)  # fmt: skip
def test_feedback_validation_names_what_is_wrong(caller, body, field, words):
    owner, client = caller
    row = record(owner.project)
    response = feedback(client, row, body)
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Feedback.objects.exists()


def test_a_failed_call_has_no_answer_to_judge(caller, owner_client):
    owner, client = caller
    row = record(owner.project, status="error", http_status=400, error="text: empty", output=None)

    response = feedback(client, row, {"verdict": "correct"})
    page = owner_client.get(f"/inference/{row.pk}/").content.decode()

    assert response.status_code == 400
    assert (
        f"Call #{row.pk} failed (HTTP 400): it has no answer to judge."
        in response.json()["verdict"]
    )
    assert not Feedback.objects.exists()
    assert "This call failed: it has no answer to judge" in page
    assert "no provider was called" in page
    assert 'data-key="c"' not in page  # no Correct / Incorrect / Edit buttons


def test_feedback_on_a_chat_takes_text(caller):
    owner, client = caller
    row = record(owner.project, task="chat", protocol="openai", output=None, output_text="Hi")
    response = feedback(client, row, {"verdict": "incorrect", "corrected_output": "Hello!"})
    assert response.status_code == 201
    row.refresh_from_db()
    assert row.corrected_output == {"output": "Hello!"}
    empty = feedback(client, row, {"verdict": "incorrect", "corrected_output": {"output": " "}})
    assert empty.status_code == 400 and "corrected_output.output" in empty.json()


def test_feedback_from_another_projects_key_is_404(caller):
    owner, _ = caller
    row = record(owner.project)
    stranger = Client(HTTP_X_API_KEY=api_key_for(MembershipFactory()))
    response = feedback(stranger, row, {"verdict": "correct"})
    assert response.status_code == 404
    assert stranger.get(f"/inferences/{row.pk}").status_code == 404
    assert not Feedback.objects.exists()


def test_viewers_cannot_give_feedback(owner):
    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    row = record(owner.project)
    client = Client(HTTP_X_API_KEY=api_key_for(viewer))
    assert client.get(f"/inferences/{row.pk}").status_code == 200
    assert feedback(client, row, {"verdict": "correct"}).status_code == 403


def ner_call(project: Any) -> Inference:
    """A `POST /inference` call that asked for persons and cities."""
    return record(project, request={"text": TEXT, "schema": {"entities": ["person", "city"]}})


def test_a_correction_may_only_use_the_calls_own_labels(caller):
    owner, client = caller
    call = ner_call(owner.project)
    classes = record(
        owner.project,
        task="label_classification",
        request={
            "text": TEXT,
            "schema": {"classifications": [{"task": "label", "labels": ["billing", "bug"]}]},
        },
        output={"text": TEXT, "label": "bug", "confidence": 0.6},
    )

    animal = feedback(
        client,
        call,
        {
            "verdict": "incorrect",
            "corrected_output": {
                "entities": [{"text": "Ada", "label": "animal", "start": 0, "end": 3}]
            },
        },
    )
    feature = feedback(
        client,
        classes,
        {"verdict": "incorrect", "corrected_output": {"classifications": [{"label": "feature"}]}},
    )
    billing = feedback(
        client,
        classes,
        {"verdict": "incorrect", "corrected_output": {"classifications": [{"label": "billing"}]}},
    )

    assert animal.status_code == 400
    assert animal.json() == {
        "corrected_output.entities[0].label": [
            "'animal' is not one of the call's labels: person, city."
        ]
    }
    assert feature.status_code == 400
    assert feature.json() == {
        "corrected_output.classifications[0].label": [
            "'feature' is not one of the call's labels: billing, bug."
        ]
    }
    call.refresh_from_db()
    assert (call.verdict, call.corrected_output) == ("", None)
    assert billing.status_code == 201, billing.json()
    classes.refresh_from_db()
    assert classes.corrected_output == {"classifications": [{"task": "label", "label": "billing"}]}
    assert Feedback.objects.count() == 1


def test_entities_without_offsets_take_them_from_the_input_text(caller):
    owner, client = caller
    call = ner_call(owner.project)

    missing = feedback(
        client,
        call,
        {
            "verdict": "incorrect",
            "corrected_output": {"entities": [{"text": "Rome", "label": "city"}]},
        },
    )
    located = feedback(
        client,
        call,
        {
            "verdict": "incorrect",
            "corrected_output": {
                "entities": [
                    {"text": "Paris", "label": "city"},
                    {"text": "Ada", "label": "person", "start": 0, "end": 3},
                    {"text": "Grace", "label": "person"},
                ]
            },
        },
    )

    assert missing.status_code == 400
    assert missing.json() == {
        "corrected_output.entities[0].text": ["'Rome' is not in the call's input text."]
    }
    assert located.status_code == 201, located.json()
    call.refresh_from_db()
    assert call.corrected_output == {
        "entities": [
            {"text": "Ada", "label": "person", "start": 0, "end": 3},
            {"text": "Grace", "label": "person", "start": 8, "end": 13},
            {"text": "Paris", "label": "city", "start": 17, "end": 22},
        ]
    }
    assert Feedback.objects.count() == 1
