"""Bad input through real HTTP: 422 (FastAPI's shape) for missing or malformed fields,
400 naming the field and its limit, 400 for what cannot be stored; never a 500."""

import json
from typing import Any

import pytest

from apps.runs.models import Run

from .conftest import GENERATE, PAIRS, inputs_body, pairs_body

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _post(pi, path: str, content: bytes | str) -> Any:
    with pi.client() as client:
        raw = content.encode() if isinstance(content, str) else content
        return client.post(path, content=raw, headers={"Content-Type": "application/json"})


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


MALFORMED = [  # (body, the location FastAPI would name)
    (_without(inputs_body(), "application_description"), ["body", "application_description"]),
    (_without(inputs_body(), "num_inputs_to_generate"), ["body", "num_inputs_to_generate"]),
    (_without(inputs_body(), "seeds"), ["body", "seeds"]),
    (inputs_body(exploration_mode="WILD"), ["body", "exploration_mode"]),
    (inputs_body(seeds="Desk Lamp"), ["body", "seeds"]),
    (inputs_body(seeds=[1, 2]), ["body", "seeds", 0]),
    (inputs_body(seeds=[["nested"]]), ["body", "seeds", 0]),
    (inputs_body(batch_size=2.5), ["body", "batch_size"]),
    (inputs_body(num_inputs_to_generate="ten"), ["body", "num_inputs_to_generate"]),
    (inputs_body(application_description=None), ["body", "application_description"]),
    (inputs_body(application_description={"a": 1}), ["body", "application_description"]),
    (inputs_body(run_parallel_batches="maybe"), ["body", "run_parallel_batches"]),
]


@pytest.mark.parametrize(("body", "loc"), MALFORMED)
def test_missing_or_malformed_fields_are_422_in_fastapis_shape(pi, body, loc):
    response = _post(pi, GENERATE, json.dumps(body))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert loc in [error["loc"] for error in detail]
    assert all({"loc", "msg", "type"} <= set(error) for error in detail)


def test_a_body_that_is_not_an_object_is_422(pi):
    for body in ("[1, 2]", '"text"', "null", "7"):
        assert _post(pi, GENERATE, body).status_code == 422, body


LIMITS = [  # (field, value, the limit the answer quotes)
    ("batch_size", 11, "10"),
    ("batch_size", 0, "1"),
    ("num_shots", 11, "10"),
    ("num_shots", -1, "0"),
    ("num_inputs_to_generate", 20_001, "20000"),
    ("num_inputs_to_generate", 0, "1"),
    ("num_inputs_to_generate", 10**30, "20000"),
    ("num_inputs_to_generate", -(10**30), "1"),
    ("application_description", "x" * 20_001, "20000"),
    ("seeds", ["seed"] * 1_001, "1000"),
]


@pytest.mark.parametrize(("field", "value", "limit"), LIMITS)
def test_limits_are_400_naming_the_field_and_the_limit(pi, field, value, limit):
    response = _post(pi, GENERATE, json.dumps(inputs_body(**{field: value})))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field
    assert field in body["detail"] and limit in body["detail"]


def test_a_seed_over_its_length_is_named_by_position(pi):
    response = _post(pi, GENERATE, json.dumps(inputs_body(seeds=["ok", "y" * 20_001])))
    assert response.status_code == 400
    assert response.json()["field"] == "seeds[1]"


UNSTORABLE = [
    # NUL and a lone surrogate: PostgreSQL cannot store them.
    '{"application_description": "a\\u0000b", "num_inputs_to_generate": 3, "seeds": []}',
    '{"application_description": "ok", "num_inputs_to_generate": 3, "seeds": ["\\ud800"]}',
    # Not finite, nested 200 levels deep, not JSON, not UTF-8, a number of 5,000 digits.
    '{"application_description": "ok", "num_inputs_to_generate": 1e400, "seeds": []}',
    '{"application_description": "ok", "num_inputs_to_generate": 3, "seeds": '
    + "[" * 200
    + "]" * 200
    + "}",
    '{"application_description": "ok", "num_inputs_to_generate": 3, "seeds": [',
    b'{"application_description": "\xff\xfe", "num_inputs_to_generate": 3, "seeds": []}',
    '{"application_description": "ok", "num_inputs_to_generate": ' + "9" * 5000 + "}",
]


@pytest.mark.parametrize("raw", UNSTORABLE, ids=range(len(UNSTORABLE)))
def test_unstorable_or_unreadable_bodies_are_400(pi, raw):
    for path in (GENERATE, PAIRS):
        response = _post(pi, path, raw)
        assert response.status_code == 400, response.text
        assert response.json()
    assert not Run.objects.exists()


def test_odd_but_valid_unicode_is_accepted(pi):
    description = "Écrire des requêtes ‮ RTL ‭ zero​width 🧪 \u0301 for a 日本語 assistant"
    started = pi.start(inputs_body(application_description=description, seeds=["😀", "ａｂｃ"]))
    run = Run.objects.get(pk=int(started["job_id"]))
    assert run.spec_version.description == description
    assert run.dataset.name.startswith("withpi-inputs-")


def test_pairs_validate_their_seeds_by_position(pi):
    seeds = [{"llm_input": "q"}, {"llm_input": "q", "llm_output": 3}]
    response = _post(pi, PAIRS, json.dumps(pairs_body(seeds=seeds)))
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "seeds", 0, "llm_output"] in locs
    assert ["body", "seeds", 1, "llm_output"] in locs
    limited = _post(pi, PAIRS, json.dumps(pairs_body(num_pairs_to_generate=20_001)))
    assert limited.status_code == 400 and limited.json()["field"] == "num_pairs_to_generate"
    limited = _post(pi, PAIRS, json.dumps(pairs_body(batch_size=11)))
    assert limited.status_code == 400 and limited.json()["field"] == "batch_size"


@pytest.mark.parametrize(
    "job_id", ["abc", "0", "-1", "99999999999999999999999", "1.5", "٣", "%00", "a%F0%9F%A7%AAb"]
)
def test_odd_job_ids_are_404(pi, job_id):
    with pi.client() as client:
        for suffix in ("", "/data", "/messages"):
            assert client.get(f"{GENERATE}/{job_id}{suffix}").status_code == 404
        assert client.delete(f"{PAIRS}/{job_id}").status_code == 404


@pytest.mark.parametrize("state", ["done", "BOGUS", "", "\u0000"])
def test_an_unknown_state_filter_is_refused(pi, state):
    with pi.client() as client:
        response = client.get(GENERATE, params={"state": state})
    if state == "":
        assert response.status_code in (200, 422)
    else:
        assert response.status_code in (400, 422), response.text
