"""The runs API and the Pioneer-compatible generate API."""

import pytest
from django.test import Client

from apps.core import services as core_services
from apps.core.models import Role
from apps.runs.models import Run
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory, drive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def api(fake_openai, django_capture_on_commit_callbacks):
    membership = MembershipFactory()
    ProviderFactory(project=membership.project, name="embedded", base_url=fake_openai.base_url)
    client = Client(HTTP_X_API_KEY=api_key_for(membership))
    client.membership = membership
    return client


def test_create_run_via_api_and_follow_it(api, fake_openai):
    version = SpecVersionFactory(spec__project=api.membership.project)
    fake_openai.responder = responders.classification(CLASS_LABELS)
    response = api.post(
        "/api/v1/runs/",
        {"spec_id": version.spec_id, "num_samples": 12, "batch_size": 4},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    assert response.json()["status"] == "QUEUED"
    drive(Run.objects.get(pk=run_id))
    body = api.get(f"/api/v1/runs/{run_id}/").json()
    assert body["status"] == "SUCCEEDED"
    assert body["accepted"] == 12
    assert body["detailed_status"][0].startswith("12 of 12")


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"num_samples": 20_001}, "num_samples", "1 to 20,000"),
        ({"num_samples": 10, "batch_size": 11}, "batch_size", "1 to 10"),
        ({"num_samples": 10, "num_shots": 11}, "num_shots", "0 to 10"),
        ({"num_samples": 10, "concurrency": 0}, "concurrency", "1 to 64"),
        ({"multiplier": 7000}, "multiplier", "over the limit of 20,000"),
        ({"multiplier": 0}, "multiplier", "1 to 20,000"),
        ({"num_samples": 10, "exploration_mode": "WILD"}, "exploration_mode", "must be one of"),
        ({"num_samples": 10, "model": "m" * 201}, "model", "no more than 200 characters"),
        (
            {"num_samples": 10, "random_seed": 10**20},
            "random_seed",
            "from -9,223,372,036,854,775,808 to 9,223,372,036,854,775,807",
        ),
    ],
)
def test_run_limits_answer_400_naming_the_field(api, payload, field, text):
    version = SpecVersionFactory(spec__project=api.membership.project)
    response = api.post(
        "/api/v1/runs/", {"spec_id": version.spec_id, **payload}, content_type="application/json"
    )
    assert response.status_code == 400
    assert text in " ".join(response.json()[field])
    assert Run.objects.count() == 0


def test_run_list_filters_by_status_and_pages_with_before(api):
    version = SpecVersionFactory(spec__project=api.membership.project)
    ids = [
        api.post(
            "/api/v1/runs/",
            {"spec_id": version.spec_id, "num_samples": 5},
            content_type="application/json",
        ).json()["id"]
        for _ in range(3)
    ]
    Run.objects.filter(pk=ids[1]).update(status="FAILED")

    def listed(query: str) -> list[int]:
        response = api.get(f"/api/v1/runs/?{query}")
        assert response.status_code == 200, response.content
        return [run["id"] for run in response.json()]

    assert listed("limit=2") == [ids[2], ids[1]]
    assert listed(f"limit=2&before={ids[1]}") == [ids[0]]
    assert listed("status=failed") == [ids[1]]
    assert listed("status=QUEUED") == [ids[2], ids[0]]
    assert listed(f"spec={version.spec_id}") == ids[::-1]
    assert listed(f"spec={version.spec_id + 1000}") == []
    for query, field, text in [
        ("status=done", "status", "one of: queued, running, succeeded, failed, cancelled"),
        ("limit=501", "limit", "less than or equal to 500"),
        ("limit=0", "limit", "greater than or equal to 1"),
        ("before=soon", "before", "whole number"),
        ("spec=0", "spec", "greater than or equal to 1"),
    ]:
        response = api.get(f"/api/v1/runs/?{query}")
        assert response.status_code == 400, query
        assert text in " ".join(response.json()[field]), response.json()


def test_failed_spec_version_is_refused_by_name_and_status(api):
    version = SpecVersionFactory(spec__project=api.membership.project, status="FAILED")
    response = api.post(
        "/api/v1/runs/",
        {"spec_id": version.spec_id, "spec_version": 1, "num_samples": 5},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "version 1 is FAILED" in response.json()["spec_version"][0]
    # Without a version number, the latest that passed its check; there is none.
    body = {"spec_id": version.spec_id, "num_samples": 5}
    latest = api.post("/api/v1/runs/", body, content_type="application/json")
    assert latest.json() == {
        "spec_version": [
            f"Spec {version.spec_id} has no version that passed its check (SUCCEEDED) yet."
        ]
    }
    unknown = api.post("/api/v1/runs/", {**body, "spec_id": 999999}, "application/json")
    assert unknown.json() == {"spec_id": ["No spec 999999 in this project."]}
    ready = SpecVersionFactory(spec__project=api.membership.project)
    theirs = ProviderFactory()  # another project's provider is no provider here
    for provider_id in (999999, theirs.pk):
        refused = api.post(
            "/api/v1/runs/",
            {"spec_id": ready.spec_id, "num_samples": 5, "provider_id": provider_id},
            "application/json",
        )
        assert refused.status_code == 400
        assert refused.json() == {"provider_id": [f"No provider {provider_id} in this project."]}


def test_other_projects_run_is_404_and_viewer_cannot_start(api):
    other = MembershipFactory()
    version = SpecVersionFactory(spec__project=other.project)
    provider = ProviderFactory(project=other.project)
    from apps.runs import services

    run = services.run_create(
        membership=other, spec_version=version, provider=provider, num_samples=5
    )
    assert api.get(f"/api/v1/runs/{run.pk}/").status_code == 404
    assert api.post(f"/api/v1/runs/{run.pk}/cancel/").status_code == 404
    assert api.get(f"/generate/jobs/{run.pk}").status_code == 404
    viewer = MembershipFactory(project=other.project, role=Role.VIEWER)
    response = Client(HTTP_X_API_KEY=api_key_for(viewer)).post(
        "/api/v1/runs/",
        {"spec_id": version.spec_id, "num_samples": 5},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_pioneer_generate_then_poll_job(api, fake_openai):
    fake_openai.responder = responders.classification(["positive", "negative"])
    response = api.post(
        "/generate",
        {
            "task_type": "classification",
            "dataset_name": "reviews",
            "num_examples": 10,
            "labels": ["positive", "negative"],
            "domain_description": "Product reviews",
            "examples": [{"text": "Love it", "label": "positive"}],
        },
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "queued"
    run_id = int(job["job_id"])
    assert api.get(f"/generate/jobs/{run_id}").json()["status"] == "queued"
    drive(Run.objects.get(pk=run_id))
    body = api.get(f"/generate/jobs/{run_id}").json()
    assert body["status"] == "complete"
    assert body["dataset_name"] == "reviews"
    assert body["examples_generated"] == 10
    assert len(body["examples"]) == 10
    # An ordinary run, which says where it came from.
    assert api.get(f"/api/v1/runs/{run_id}/").json()["origin"] == "pioneer"
    assert api.get("/api/v1/runs/").json()[0]["origin"] == "pioneer"
    # The same dataset name again makes version 2 of the dataset.
    again = api.post(
        "/generate",
        {
            "task_type": "classification",
            "dataset_name": "reviews",
            "num_examples": 5,
            "labels": ["positive", "negative"],
            "domain_description": "Product reviews",
        },
        content_type="application/json",
    )
    assert again.status_code == 202
    assert Run.objects.get(pk=int(again.json()["job_id"])).dataset_version == 2


def test_pioneer_generate_validates_fields(api):
    response = api.post(
        "/generate",
        {"task_type": "ner", "dataset_name": "x", "num_examples": 0, "domain_description": "d"},
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert "greater than or equal to 1" in body["num_examples"][0]


def test_generate_rate_limit_is_120_per_minute_with_retry_after(api):
    # Invalid bodies are counted too (the limit comes first), so no run is created.
    statuses = [
        api.post("/generate", {}, content_type="application/json").status_code for _ in range(121)
    ]
    assert statuses[:120] == [400] * 120
    assert statuses[120] == 429
    limited = api.post("/generate", {}, content_type="application/json")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert "120 generate requests per minute" in limited.json()["detail"]
    other_user = Client(HTTP_X_API_KEY=api_key_for(MembershipFactory()))
    assert other_user.post("/generate", {}, content_type="application/json").status_code == 400


def test_pioneer_same_request_twice_reuses_the_spec_version(api):
    payload = {
        "task_type": "ner",
        "dataset_name": "people",
        "num_examples": 5,
        "labels": ["PERSON"],
        "multi_label": True,  # ignored for NER: must not make every request a new version
        "domain_description": "  News articles  ",
    }
    first = api.post("/generate", payload, content_type="application/json")
    second = api.post("/generate", payload, content_type="application/json")
    assert first.status_code == second.status_code == 202
    runs = Run.objects.filter(pk__in=[first.json()["job_id"], second.json()["job_id"]])
    assert {run.spec_version.number for run in runs} == {1}
    assert sorted(run.dataset_version for run in runs) == [1, 2]


def test_a_model_the_provider_does_not_list_is_400_naming_its_models(api, fake_openai):
    version = SpecVersionFactory(spec__project=api.membership.project)
    body = {"spec_id": version.spec_id, "num_samples": 5}
    response = api.post("/api/v1/runs/", {**body, "model": "fake-gtp"}, "application/json")
    assert response.status_code == 400
    assert response.json()["model"] == [
        "Provider embedded does not serve 'fake-gtp'; it lists: fake-gpt, fake-gpt-mini."
    ]
    assert Run.objects.count() == 0
    listed = api.post("/api/v1/runs/", {**body, "model": "fake-gpt-mini"}, "application/json")
    assert listed.status_code == 201 and listed.json()["model"] == "fake-gpt-mini"
    # The list is asked for once a minute, not for every run.
    asked = [r for r in fake_openai.requests if r["path"].endswith("/models")]
    assert len(asked) == 1


def test_any_model_is_accepted_when_the_provider_lists_none(api, fake_openai):
    fake_openai.script(fail_status=404, error_rate=1.0)  # a server without /v1/models
    version = SpecVersionFactory(spec__project=api.membership.project)
    response = api.post(
        "/api/v1/runs/",
        {"spec_id": version.spec_id, "num_samples": 5, "model": "whatever-it-serves"},
        "application/json",
    )
    assert response.status_code == 201, response.content


def test_a_provider_that_cannot_answer_now_is_held_to_its_last_model_list(
    api, fake_openai, monkeypatch
):
    monkeypatch.setattr(core_services, "MODEL_LIST_SECONDS", 0)  # ask it every time
    version = SpecVersionFactory(spec__project=api.membership.project)
    body = {"spec_id": version.spec_id, "num_samples": 5}
    listed = api.post("/api/v1/runs/", {**body, "model": "fake-gpt-mini"}, "application/json")
    assert listed.status_code == 201
    fake_openai.script(fail_status=503, error_rate=1.0)  # busy from now on
    typo = api.post("/api/v1/runs/", {**body, "model": "fake-gtp"}, "application/json")
    assert typo.status_code == 400
    assert typo.json()["model"][0].endswith("it lists: fake-gpt, fake-gpt-mini.")
    asked = [r for r in fake_openai.requests if r["path"].endswith("/models")]
    assert len(asked) >= 2  # it was asked again, and failed


def test_a_provider_model_id_as_run_pages_show_it_picks_that_provider(api, fake_openai):
    project = api.membership.project
    other = ProviderFactory(project=project, name="vllm", base_url=fake_openai.base_url)
    version = SpecVersionFactory(spec__project=project)
    body = {"spec_id": version.spec_id, "num_samples": 5}
    named = api.post("/api/v1/runs/", {**body, "model": "vllm/fake-gpt-mini"}, "application/json")
    assert named.status_code == 201, named.content
    assert (named.json()["provider"], named.json()["model"]) == ("vllm", "fake-gpt-mini")
    assert Run.objects.get(pk=named.json()["id"]).provider == other
    # With the provider given, its own prefix is dropped; a slash that names no provider
    # is part of the model's name, checked against what the provider lists.
    chosen = api.post(
        "/api/v1/runs/",
        {**body, "provider_id": other.pk, "model": "vllm/fake-gpt"},
        "application/json",
    )
    assert chosen.status_code == 201 and chosen.json()["model"] == "fake-gpt"
    slashed = api.post("/api/v1/runs/", {**body, "model": "org/fake-gpt"}, "application/json")
    assert slashed.status_code == 400
    assert slashed.json()["model"] == [
        "Provider embedded does not serve 'org/fake-gpt'; it lists: fake-gpt, fake-gpt-mini."
    ]


def test_generate_job_limit_out_of_range_is_400_naming_limit(api):
    version = SpecVersionFactory(spec__project=api.membership.project)
    run = api.post(
        "/api/v1/runs/", {"spec_id": version.spec_id, "num_samples": 5}, "application/json"
    ).json()
    for limit, message in (("abc", "A valid integer is required."), ("1001", "1000")):
        response = api.get(f"/generate/jobs/{run['id']}?limit={limit}")
        assert response.status_code == 400
        assert message in response.json()["limit"][0]
    assert api.get(f"/generate/jobs/{run['id']}?limit=0").json()["examples"] == []


def test_generate_takes_a_provider_model_id(api, fake_openai):
    ProviderFactory(project=api.membership.project, name="vllm", base_url=fake_openai.base_url)
    response = api.post(
        "/generate",
        {
            "task_type": "decoder",
            "dataset_name": "answers",
            "num_examples": 5,
            "domain_description": "Short answers.",
            "model": "vllm/fake-gpt-mini",
        },
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    run = Run.objects.get(pk=response.json()["job_id"])
    assert (run.provider.name, run.model) == ("vllm", "fake-gpt-mini")


def test_generate_files_spec_problems_under_the_fields_they_are_about(api):
    base = {"dataset_name": "d", "num_examples": 5, "domain_description": "Tickets."}
    repeated = api.post(
        "/generate",
        {**base, "task_type": "classification", "labels": ["a", "a"]},
        content_type="application/json",
    )
    assert repeated.status_code == 400
    assert repeated.json() == {"labels": ["Labels: each label must be unique; repeated: a."]}
    bad_seed = api.post(
        "/generate",
        {**base, "task_type": "classification", "labels": ["a", "b"], "examples": [{"x": 1}]},
        content_type="application/json",
    )
    assert bad_seed.status_code == 400 and list(bad_seed.json()) == ["examples"]
    assert Run.objects.count() == 0


def test_generate_takes_decoder_examples_as_input_and_output(api):
    response = api.post(
        "/generate",
        {
            "task_type": "decoder",
            "dataset_name": "qa",
            "num_examples": 5,
            "domain_description": "Short answers.",
            "examples": [{"input": "What is 2+2?", "output": "4"}],
        },
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    seeds = Run.objects.get(pk=response.json()["job_id"]).spec_version.seeds
    assert seeds == [{"instruction": "What is 2+2?", "response": "4"}]
