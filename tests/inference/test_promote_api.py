"""POST /api/v1/inferences/promote/: feedback given over the API becomes a dataset version
without the browser; errors name the field; viewers and other projects promote nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.core.models import Membership, Role
from apps.datasets.models import Dataset, DatasetVersion
from apps.inference.models import Inference
from apps.inference.recording import inference_record
from tests.factories import MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db

PROMOTE = "/api/v1/inferences/promote/"
GRACE = "Grace Hopper visited Paris."
ADA = "Ada Lovelace met Charles Babbage in London."
LOVELACE = "Ada wrote the first program."


def entity(text: str, part: str, label: str) -> dict[str, Any]:
    start = text.index(part)
    return {"text": part, "label": label, "start": start, "end": start + len(part)}


def ner_call(project: Any, text: str, entities: list[dict[str, Any]]) -> Inference:
    """A native extraction call as the gateway records it."""
    return inference_record(
        project=project,
        model_id="fake/fake-gpt",
        protocol="native",
        task="extract",
        request={"text": text, "schema": {"entities": ["person", "city"]}},
        input_text=text,
        output={"entities": entities, "classifications": [], "structures": {}, "relations": []},
        status="ok",
    )


def chat_call(project: Any) -> Inference:
    return inference_record(
        project=project,
        model_id="fake/fake-gpt",
        protocol="openai",
        task="chat",
        request={"messages": [{"role": "user", "content": "Say hi"}]},
        input_text="Say hi",
        output=None,
        output_text="Hello!",
        status="ok",
    )


def post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, body, content_type="application/json")


def feedback(client: Client, call: Inference, body: dict[str, Any]) -> None:
    response = post(client, f"/api/v1/inferences/{call.pk}/feedback/", body)
    assert response.status_code == 201, response.json()


@pytest.fixture
def api(owner_key: str) -> Client:
    return Client(HTTP_X_API_KEY=owner_key)


def nothing_created() -> bool:
    return not Dataset.objects.exists() and not DatasetVersion.objects.exists()


def test_feedback_then_promote_makes_a_version_with_lineage(owner: Membership, api: Client):
    project = owner.project
    right = ner_call(project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    fixed = ner_call(project, ADA, [entity(ADA, "Ada Lovelace", "person")])
    ner_call(project, "Nobody reviewed this.", [])
    chat = chat_call(project)  # reviewed too, but outside the task filter below
    theirs = ner_call(MembershipFactory().project, GRACE, [])  # another project's call
    theirs.verdict = "correct"
    theirs.save(update_fields=["verdict"])
    correction = {
        "entities": [entity(ADA, "Ada Lovelace", "person"), entity(ADA, "London", "city")]
    }
    feedback(api, right, {"verdict": "correct"})
    feedback(api, fixed, {"verdict": "incorrect", "corrected_output": correction})
    feedback(api, chat, {"verdict": "correct"})

    response = post(api, PROMOTE, {"dataset_name": "reviewed", "task": "extract"})

    assert response.status_code == 201, response.json()
    dataset = Dataset.objects.get(project=project, name="reviewed")
    assert response.json() == {
        "dataset_id": dataset.pk,
        "dataset_name": "reviewed",
        "version": 1,
        "added": 2,
    }
    assert dataset.task_type == "ner"
    page = api.get(f"/api/v1/datasets/{dataset.pk}/samples/")
    assert page.status_code == 200
    samples = {s["lineage"]["inference_id"]: s for s in page.json()["results"]}
    assert set(samples) == {right.pk, fixed.pk}  # no unreviewed, chat or foreign call
    assert samples[fixed.pk]["payload"] == {"text": ADA, **correction}
    assert samples[fixed.pk]["lineage"] == {
        "inference_id": fixed.pk,
        "model_id": "fake/fake-gpt",
        "verdict": "incorrect",
        "task": "extract",
        "corrected": True,
    }
    assert samples[right.pk]["payload"] == {
        "text": GRACE,
        "entities": [entity(GRACE, "Grace Hopper", "person")],
    }
    assert samples[right.pk]["lineage"]["corrected"] is False
    assert {s["version"] for s in samples.values()} == {1}
    detail = api.get(f"/api/v1/datasets/{dataset.pk}/").json()
    assert detail["sample_count"] == 2
    assert [(v["number"], v["source"], v["added"]) for v in detail["versions"]] == [
        (1, "promotion", 2)
    ]

    # The same calls again add nothing: a 400, and no empty version 2.
    again = post(
        api, PROMOTE, {"dataset_name": "reviewed", "task": "extract", "verdict": "incorrect"}
    )
    assert again.status_code == 400
    assert again.json() == {
        "dataset_name": [
            "Nothing new: reviewed already holds the 1 promotable call of this filter."
        ]
    }
    assert DatasetVersion.objects.filter(dataset=dataset).count() == 1
    # One new reviewed call among them: version 2 adds it, and its note says so.
    newer = ner_call(owner.project, LOVELACE, [entity(LOVELACE, "Ada", "person")])
    feedback(api, newer, {"verdict": "correct"})
    more = post(api, PROMOTE, {"dataset_name": "reviewed", "task": "extract"})
    assert more.status_code == 201, more.json()
    assert (more.json()["version"], more.json()["added"]) == (2, 1)
    v2 = DatasetVersion.objects.get(dataset=dataset, number=2)
    assert v2.note == "1 promoted inference; 2 already in the dataset"


def test_nothing_to_promote_is_400_and_leaves_no_version(owner: Membership, api: Client):
    call = ner_call(owner.project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    ner_call(owner.project, ADA, [])  # never reviewed
    feedback(api, call, {"verdict": "correct"})

    for body in (
        {"dataset_name": "empty", "task": "chat"},  # no call of that task
        {"dataset_name": "empty", "verdict": "none"},  # unreviewed calls only
        {"dataset_name": "empty", "model_id": "fake/other"},
    ):
        response = post(api, PROMOTE, body)
        assert response.status_code == 400, body
        errors = response.json()
        assert list(errors) == ["verdict"], errors
        assert "Nothing to promote" in errors["verdict"][0]
    assert nothing_created()


def test_task_type_clash_and_mixed_tasks_name_their_field(owner: Membership, api: Client):
    call = ner_call(owner.project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    chat = chat_call(owner.project)
    feedback(api, call, {"verdict": "correct"})
    feedback(api, chat, {"verdict": "correct"})

    mixed = post(api, PROMOTE, {"dataset_name": "mix"})
    assert mixed.status_code == 400
    assert "filter by task first" in mixed.json()["task"][0]
    assert nothing_created()

    assert post(api, PROMOTE, {"dataset_name": "chats", "task": "chat"}).status_code == 201
    clash = post(api, PROMOTE, {"dataset_name": "chats", "task": "extract"})
    assert clash.status_code == 400
    assert "holds decoder samples" in clash.json()["dataset_name"][0]
    assert DatasetVersion.objects.count() == 1


def test_viewers_key_is_403_and_creates_nothing(owner: Membership, api: Client):
    call = ner_call(owner.project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    feedback(api, call, {"verdict": "correct"})
    viewer = MembershipFactory.create(project=owner.project, role=Role.VIEWER)
    client = Client(HTTP_X_API_KEY=api_key_for(viewer))

    assert client.get("/api/v1/inferences/").status_code == 200  # viewers may look
    response = post(client, PROMOTE, {"dataset_name": "reviewed", "task": "extract"})
    assert response.status_code == 403
    assert "detail" in response.json()
    assert post(client, PROMOTE, {"verdict": "maybe"}).status_code == 403  # before validation
    assert nothing_created()


def test_another_projects_key_cannot_promote_these_calls(owner: Membership, api: Client):
    call = ner_call(owner.project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    feedback(api, call, {"verdict": "correct"})
    stranger = Client(HTTP_X_API_KEY=api_key_for(MembershipFactory.create()))

    own = post(stranger, PROMOTE, {"dataset_name": "stolen", "task": "extract"})
    assert own.status_code == 400  # its own project has nothing reviewed
    assert "Nothing to promote" in own.json()["verdict"][0]
    named = post(stranger, PROMOTE, {"dataset_name": "stolen", "project_id": owner.project.pk})
    assert named.status_code == 404  # as for the list: not the key's project
    assert nothing_created()

    # The owner's key with its own project_id still works.
    mine = post(api, PROMOTE, {"dataset_name": "mine", "project_id": owner.project.pk})
    assert mine.status_code == 201, mine.json()
    assert list(Dataset.objects.values_list("project_id", "name")) == [(owner.project.pk, "mine")]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"dataset_name": "d", "verdict": "maybe"}, "verdict", "not a valid choice"),
        ({"dataset_name": "d", "task": "extrct"}, "task", '"extrct" is not a valid choice'),
        ({"dataset_name": "d", "model_id": "m" * 321}, "model_id", "no more than 320"),
        ({"dataset_name": "d", "training_job_id": ["job"]}, "training_job_id", "Not a valid"),
        ({"dataset_name": "d", "project_id": "mine"}, "project_id", "valid integer"),
        ({"task": "extract"}, "dataset_name", "required"),
        ({"dataset_name": "  "}, "dataset_name", "may not be blank"),
        ({"dataset_name": "n" * 121}, "dataset_name", "no more than 120"),
    ],
)
def test_bad_filter_values_are_400_naming_the_field(owner, api, body, field, words):
    call = ner_call(owner.project, GRACE, [entity(GRACE, "Grace Hopper", "person")])
    feedback(api, call, {"verdict": "correct"})

    response = post(api, PROMOTE, body)

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field], errors
    assert words in errors[field][0]
    assert nothing_created()


def test_promote_is_documented_with_its_bodies(owner_client: Client):
    schema = owner_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/inferences/promote/"]["post"]
    components = schema["components"]["schemas"]

    def body(content: dict[str, Any]) -> dict[str, Any]:
        return components[content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]

    request = body(operation["requestBody"]["content"])
    assert request["required"] == ["dataset_name"]
    assert set(request["properties"]) == {
        "dataset_name",
        "model_id",
        "task",
        "verdict",
        "training_job_id",
        "project_id",
    }
    created = body(operation["responses"]["201"]["content"])
    assert set(created["properties"]) == {"dataset_id", "dataset_name", "version", "added"}
    assert {"201", "400", "401", "403", "404"} <= set(operation["responses"])
    assert operation["tags"] == ["inferences"]
