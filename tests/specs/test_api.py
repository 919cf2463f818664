import json

import pytest
from django.test import Client

from apps.core.models import Role
from apps.specs import services
from apps.specs.models import Spec
from apps.specs.task_types import batch_schema, content_of
from tests.factories import MembershipFactory, api_key_for
from tests.specs.helpers import LABELS, SEEDS, latest, make_spec

pytestmark = pytest.mark.django_db

SPECS = "/api/v1/specs/"
NEW_SPEC = {
    "name": "Support intents",
    "task_type": "classification",
    "description": "Support tickets of an invoicing app.",
    "labels": LABELS,
    "requirements": ["First person"],
    "seeds": SEEDS,
}


def post(key: str, url: str, payload: dict):
    return Client().post(url, payload, content_type="application/json", HTTP_X_API_KEY=key)


def test_create_list_and_get(owner_key):
    response = post(owner_key, SPECS, NEW_SPEC)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Support intents"
    assert body["latest_version"] == {"number": 1, "status": "PENDING"}
    assert [v["number"] for v in body["versions"]] == [1]
    assert body["versions"][0]["seed_count"] == 3

    listing = Client().get(SPECS, HTTP_X_API_KEY=owner_key).json()
    assert [(s["id"], s["latest_version"]["status"]) for s in listing] == [(body["id"], "PENDING")]
    detail = Client().get(f"{SPECS}{body['id']}/", HTTP_X_API_KEY=owner_key).json()
    assert detail["versions"][0]["status"] == "PENDING"


def test_new_version_and_get_by_number(owner, owner_key):
    spec = make_spec(owner)
    services.spec_version_check(version=latest(spec))
    response = post(owner_key, f"{SPECS}{spec.pk}/versions/", {"instruction": "Be terse."})
    assert response.status_code == 201, response.content
    v2 = response.json()
    assert (v2["number"], v2["status"], v2["instruction"]) == (2, "PENDING", "Be terse.")
    assert v2["seeds"] == SEEDS  # copied from v1

    v1 = Client().get(f"{SPECS}{spec.pk}/versions/1/", HTTP_X_API_KEY=owner_key).json()
    assert (v1["status"], v1["instruction"]) == ("SUCCEEDED", "")
    assert v1["schema"]["properties"]["label"]["enum"] == LABELS
    assert {"label": "billing", "count": 1, "in_spec": True} in v1["label_counts"]
    missing = Client().get(f"{SPECS}{spec.pk}/versions/9/", HTTP_X_API_KEY=owner_key)
    assert missing.status_code == 404


def test_a_custom_schema_and_its_seeds_keep_their_key_order(owner_key):
    # The order is meaning: a model under structured output writes the properties in the
    # schema's order. (jsonb would give answer, question, difficulty: shorter keys first.)
    fields = ["question", "answer", "difficulty"]
    schema = {
        "type": "object",
        "properties": {name: {"type": "string"} for name in fields},
        "required": fields,
    }
    seed = {"question": "Why is the sky blue?", "answer": "Scattering.", "difficulty": "easy"}
    response = post(
        owner_key,
        SPECS,
        {
            "name": "Quiz",
            "task_type": "custom",
            "description": "Science quiz questions.",
            "custom_schema": schema,
            "seeds": [seed],
        },
    )
    assert response.status_code == 201, response.content
    spec_id = response.json()["id"]

    version = Client().get(f"{SPECS}{spec_id}/versions/1/", HTTP_X_API_KEY=owner_key).json()

    assert list(version["custom_schema"]["properties"]) == fields
    assert list(version["seeds"][0]) == fields
    sent = batch_schema(content_of(latest(Spec.objects.get(pk=spec_id))), 2)
    assert list(sent["properties"]["samples"]["items"]["properties"]) == fields
    detail = Client().get(f"{SPECS}{spec_id}/", HTTP_X_API_KEY=owner_key).json()
    assert detail["versions"][0]["seed_count"] == 1  # counted in SQL, on `json` now


def test_seeds_as_jsonl_and_csv_text(owner_key):
    jsonl = "\n".join(['{"text": "a", "label": "billing"}', "", '{"text": "b", "label": "x"}'])
    payload = {k: v for k, v in NEW_SPEC.items() if k != "seeds"}
    response = post(owner_key, SPECS, {**payload, "seeds_jsonl": jsonl})
    assert response.status_code == 201, response.content
    spec = Spec.objects.get()
    assert latest(spec).seeds == [{"text": "a", "label": "billing"}, {"text": "b", "label": "x"}]

    csv_text = "text,label\nfine,billing\nbroken,too,many\n"
    response = post(owner_key, SPECS, {**payload, "name": "CSV", "seeds_csv": csv_text})
    assert response.status_code == 400
    assert response.json() == {"seeds_csv": ["Line 3: 3 values, but the header has 2 columns."]}


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"name": ""}, "name", "may not be blank"),
        ({"task_type": "poetry"}, "task_type", "not a valid choice"),
        ({"labels": [f"l{i}" for i in range(201)]}, "labels", "At most 200 labels (got 201)."),
        ({"requirements": ["r"] * 51}, "requirements", "At most 50 requirements (got 51)."),
        ({"seeds": [{"text": "a"}] * 1001}, "seeds", "At most 1,000 seeds (got 1,001)."),
        ({"seeds": ["not an object"]}, "seeds", "Seed 1 is not a JSON object."),
        ({"seeds": [], "seeds_jsonl": "{}\n{oops}"}, "seeds_jsonl", "Give seeds once"),
        ({"description": "x" * 20_001}, "description", "At most 20,000 characters"),
    ],
)
def test_bad_input_is_400_naming_field_and_limit(owner_key, change, field, expected):
    response = post(owner_key, SPECS, {**NEW_SPEC, **change})
    assert response.status_code == 400, response.content
    body = response.json()
    assert expected in " ".join(map(str, body[field])), body
    assert not Spec.objects.exists()


def test_jsonl_bad_line_is_400_with_line_number(owner_key):
    payload = {k: v for k, v in NEW_SPEC.items() if k != "seeds"}
    jsonl = '{"text": "a", "label": "billing"}\n{"text": "b", "label": "billing"}\n{nope}\n'
    response = post(owner_key, SPECS, {**payload, "seeds_jsonl": jsonl})
    assert response.status_code == 400
    assert response.json()["seeds_jsonl"][0].startswith("Line 3: not valid JSON")


def test_duplicate_name_is_400(owner, owner_key):
    make_spec(owner, name="Support intents")
    response = post(owner_key, SPECS, NEW_SPEC)
    assert response.status_code == 400
    assert "already exists" in response.json()["name"][0]


def test_another_projects_spec_is_404(owner_key):
    other = MembershipFactory()
    spec = make_spec(other, name="b-secret-spec")
    base = f"{SPECS}{spec.pk}/"
    for url in (base, f"{base}versions/", f"{base}versions/1/"):
        assert Client().get(url, HTTP_X_API_KEY=owner_key).status_code == 404, url
    response = post(owner_key, f"{SPECS}{spec.pk}/versions/", {"description": "mine now"})
    assert response.status_code == 404
    assert latest(spec).number == 1
    assert "b-secret-spec" not in Client().get(SPECS, HTTP_X_API_KEY=owner_key).content.decode()


def test_viewer_can_read_but_not_write(owner):
    spec = make_spec(owner)
    viewer_key = api_key_for(MembershipFactory(project=owner.project, role=Role.VIEWER))
    assert Client().get(f"{SPECS}{spec.pk}/", HTTP_X_API_KEY=viewer_key).status_code == 200
    assert post(viewer_key, SPECS, {**NEW_SPEC, "name": "Other"}).status_code == 403
    response = post(viewer_key, f"{SPECS}{spec.pk}/versions/", {"description": "x"})
    assert response.status_code == 403
    assert Spec.objects.count() == 1 and latest(spec).number == 1


def test_openapi_schema_lists_spec_endpoints(owner_client):
    response = owner_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/specs/{spec_id}/versions/{number}/" in paths
    # Request bodies are components of their own (COMPONENT_SPLIT_REQUEST).
    assert "SpecCreateInputRequest" in response.json()["components"]["schemas"]


def test_a_body_over_the_upload_limit_is_a_json_413_on_every_endpoint(owner_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    seeds = [{"text": "x" * 1_000, "label": "billing"}] * 200
    texts = ["x" * 1_000] * 200
    for url, body in (
        (SPECS, {**NEW_SPEC, "seeds": seeds}),
        ("/api/v1/runs/", {"spec_id": 1, "num_samples": 5, "model": "x" * 200_000}),
        ("/generate", {"task_type": "ner", "domain_description": "x" * 200_000}),
        ("/generate/ner/label-existing", {"labels": ["person"], "texts": texts}),
    ):
        response = post(owner_key, url, body)
        assert response.status_code == 413, url
        assert "limit of 0.1 MB" in response.json()["detail"]
    assert not Spec.objects.exists()


def test_the_label_existing_limit_fits_in_one_request(settings):
    # 1,000 texts of 20,000 characters, as JSON, are under the default body limit.
    body = json.dumps({"labels": ["person"], "texts": ["x" * 20_000] * 1_000})
    assert len(body.encode()) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE
