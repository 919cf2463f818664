"""`POST /generate/{ner,classification}/label-existing`: order, limits, auth, the real gateway."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core import services as core_services
from apps.core.models import Role
from apps.inference.models import Inference
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.inference.labelling.helpers import CLS_URL, KNOWN, NER_URL, post_json

pytestmark = pytest.mark.django_db


def test_ner_results_keep_the_order_given_and_are_recorded(api, provider, fake_extract, owner):
    texts = [f"Text {i}: Ada met Grace in {'Paris' if i % 2 else 'Berlin'}." for i in range(30)]
    response = post_json(
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
    response = post_json(
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
    single = post_json(api, CLS_URL, body).json()
    assert [(r["text"], r["label"]) for r in single["results"]] == [
        (texts[0], "billing"),
        (texts[1], "bug"),
        (texts[2], "bug"),
    ]
    assert single["results"][0]["confidence"] == 0.8
    multi = post_json(api, CLS_URL, {**body, "multi_label": True}).json()
    assert multi["results"][1]["labels"] == ["bug", "urgent"]
    assert Inference.objects.filter(task="label_classification").count() == 6


def test_default_model_is_the_embedded_one(api, fake_extract, owner):
    core_services.provider_ensure_embedded(project=owner.project)
    body = post_json(api, NER_URL, {"labels": ["city"], "texts": ["Paris"]}).json()
    assert body["model_id"].startswith("embedded/")


def test_one_failing_text_keeps_the_others_every_failure_is_502(api, provider, fake_extract):
    body = {
        "labels": ["city"],
        "texts": ["Paris", "FAIL here", "Berlin"],
        "model_id": "fake/fake-gpt",
    }
    response = post_json(api, NER_URL, body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert "could not be reached" in results[1]["error"]
    assert results[2]["entities"][0]["text"] == "Berlin"
    assert Inference.objects.filter(status="error").count() == 1
    all_fail = post_json(api, NER_URL, {**body, "texts": ["FAIL 1", "FAIL 2"]})
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
    response = post_json(api, NER_URL, body)
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
    response = post_json(api, NER_URL, body)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000


def test_unknown_model_is_404(api, provider, fake_extract):
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "nope/missing"}
    assert post_json(api, NER_URL, body).status_code == 404


def test_auth_bearer_viewer_and_rate_limit(provider, fake_extract, owner, monkeypatch):
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "fake/fake-gpt"}
    assert post_json(APIClient(), NER_URL, body).status_code == 401
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(owner)}")
    assert post_json(bearer, CLS_URL, {**body, "labels": ["bug", "billing"]}).status_code == 200

    viewer = MembershipFactory(project=owner.project, role=Role.VIEWER)
    as_viewer = APIClient()
    as_viewer.credentials(HTTP_X_API_KEY=api_key_for(viewer))
    assert post_json(as_viewer, NER_URL, body).status_code == 403

    monkeypatch.setattr("apps.core.throttle.GENERATE_PER_MINUTE", 2)
    limited = APIClient()
    limited.credentials(HTTP_X_API_KEY=api_key_for(MembershipFactory(project=owner.project)))
    assert post_json(limited, NER_URL, body).status_code == 200
    assert post_json(limited, NER_URL, body).status_code == 200
    third = post_json(limited, NER_URL, body)
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
    ner = post_json(
        client, NER_URL, {"labels": ["person", "city"], "texts": texts, "model_id": "oai"}
    )
    assert ner.status_code == 200, ner.content
    results = ner.json()["results"]
    assert [[(e["text"], e["start"]) for e in r["entities"]] for r in results] == [
        [("Ada", 0), ("Berlin", 13)],
        [("Grace", 0), ("Paris", 16)],
        [],
    ]
    assert ner.json()["usage"]["input_tokens"] > 0
    cls = post_json(
        client, CLS_URL, {"labels": ["billing", "bug"], "texts": ["My invoice?"], "model_id": "oai"}
    )
    assert cls.json()["results"][0]["label"] == "billing"
    assert len(fake_openai.requests) == 4
    assert Inference.objects.filter(provider__name="oai").count() == 4
