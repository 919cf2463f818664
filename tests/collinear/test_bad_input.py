"""Bad input through real HTTP (pytest-django's live server): each refused with the status
a Collinear client expects, in FastAPI's shape, before any run is made; never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from apps.core.models import Role
from apps.runs.models import Run
from tests.factories import MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = {"context": "A customer asks about a refund.", "response": "Refunds take 5 days."}


def locs(answer: httpx.Response) -> list[list[Any]]:
    return [problem["loc"] for problem in answer.json()["detail"]]


def refused(answer: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """The answer is `status` naming exactly `fields`, in FastAPI's detail list."""
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert all(set(p) == {"loc", "msg", "type"} for p in detail)
    assert [loc[1] if len(loc) > 1 else None for loc in locs(answer)] == list(fields)
    assert not Run.objects.exists()
    return detail[0]


def test_without_a_key_or_with_a_bad_one_is_401(live_collinear):
    body = live_collinear.body([EXAMPLE], 2)
    missing = httpx.post(f"{live_collinear.base_url}/api/v1/synth_data/generate", json=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert isinstance(missing.json()["detail"], str)
    wrong = live_collinear.post(body, key="sb_not-a-key")
    assert wrong.status_code == 401 and "Invalid" in wrong.json()["detail"]
    assert not Run.objects.exists()


def test_missing_fields_are_listed_together(live_collinear):
    problem = refused(live_collinear.post({}), 422, "model_id", "multiplier", "examples", "prompt")
    assert problem == {"loc": ["body", "model_id"], "msg": "Field required", "type": "missing"}
    refused(live_collinear.post({"model_id": live_collinear.model_id}), 422,
            "multiplier", "examples", "prompt")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"model_id": 7}, "model_id", "uuid_type"),
        ({"model_id": "fake/fake-gpt"}, "model_id", "uuid_parsing"),
        ({"multiplier": "four"}, "multiplier", "int_type"),
        ({"multiplier": True}, "multiplier", "int_type"),
        ({"multiplier": 2.5}, "multiplier", "int_type"),
        ({"multiplier": 0}, "multiplier", "greater_than_equal"),
        ({"multiplier": -3}, "multiplier", "greater_than_equal"),
        ({"examples": "a row"}, "examples", "list_type"),
        ({"examples": {"context": "x"}}, "examples", "list_type"),
        ({"examples": []}, "examples", "too_short"),
        ({"examples": [EXAMPLE, "a row"]}, "examples", "dict_type"),
        ({"prompt": None}, "prompt", "string_type"),
        ({"prompt": ["Write"]}, "prompt", "string_type"),
    ],
)
def test_wrong_types_are_422(live_collinear, change, field, kind):
    body = {**live_collinear.body([EXAMPLE], 2), **change}
    assert refused(live_collinear.post(body), 422, field)["type"] == kind


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"multiplier": NaN}', b"[1, 2]", b'"text"', b"\xff\xfe{}",
     b'{"multiplier": ' + b"9" * 5000 + b"}"],
)  # fmt: skip
def test_bodies_that_are_not_a_json_object_are_422(live_collinear, raw):
    answer = live_collinear.post(raw)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body"]
    assert not Run.objects.exists()


def test_over_20000_generations_names_both_fields(live_collinear):
    problem = refused(live_collinear.post(live_collinear.body([EXAMPLE] * 3, 6667)), 400,
                      "examples", "multiplier")  # fmt: skip
    assert "20,001" in problem["msg"] and "20,000" in problem["msg"]
    huge = live_collinear.post(live_collinear.body([EXAMPLE], 10**40))
    refused(huge, 400, "examples", "multiplier")


def test_other_limits_are_400_naming_the_field(live_collinear):
    many = live_collinear.post(live_collinear.body([EXAMPLE] * 1001, 1))
    assert "1,000" in refused(many, 400, "examples")["msg"]
    long_prompt = live_collinear.post(live_collinear.body([EXAMPLE], 1, prompt="x" * 20_001))
    refused(long_prompt, 400, "prompt")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": "Write\u0000more"}, "prompt"),
        ({"examples": [{"context": "a\u0000b"}]}, "examples"),
        ({"examples": [{"bad\u0000key": "x"}]}, "examples"),
    ],
)
def test_unstorable_values_are_400(live_collinear, change, field):
    body = {**live_collinear.body([EXAMPLE], 2), **change}
    refused(live_collinear.post(json.dumps(body)), 400, field)


def test_lone_surrogates_infinities_and_deep_nesting_are_400(live_collinear):
    body = json.dumps(live_collinear.body([{"context": "x"}], 2))
    surrogate = body.replace('"x"', '"\\ud800"')
    refused(live_collinear.post(surrogate), 400, "examples")
    refused(live_collinear.post(body.replace('"x"', "1e400")), 400, "examples")  # infinite
    deep = body.replace('"x"', "[" * 100 + "]" * 100)
    refused(live_collinear.post(deep), 400, "examples")
    deeper = body.replace('"x"', "[" * 5000 + "]" * 5000)
    assert live_collinear.post(deeper).status_code in (400, 413, 422)
    assert not Run.objects.exists()


def test_an_unknown_model_uuid_is_404_naming_model_id(live_collinear):
    body = live_collinear.body([{"контекст": "Ça va? 🙂\u200f"}], 2, model_id=str(uuid.uuid4()))
    problem = refused(live_collinear.post(body), 404, "model_id")
    assert "Models page" in problem["msg"]


def test_another_projects_key_cannot_use_its_model(live_collinear):
    stranger = api_key_for(MembershipFactory())  # a project without that model
    refused(live_collinear.post(live_collinear.body([EXAMPLE], 2), key=stranger), 404, "model_id")


def test_a_viewer_cannot_start_a_fan_out(live_collinear):
    viewer = MembershipFactory(project=live_collinear.membership.project, role=Role.VIEWER)
    answer = live_collinear.post(live_collinear.body([EXAMPLE], 2), key=api_key_for(viewer))
    assert answer.status_code == 403 and isinstance(answer.json()["detail"], str)
    assert not Run.objects.exists()


def test_only_post(live_collinear):
    answer = httpx.get(
        f"{live_collinear.base_url}/api/v1/synth_data/generate", headers=live_collinear.headers()
    )
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
