"""Failures, each in its protocol's shape and status, each leaving exactly one row."""

from __future__ import annotations

import concurrent.futures
import signal

import anthropic
import httpx
import openai
import pytest

from apps.inference.models import Inference

from .server import GatewayServer, server_env

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = [{"role": "user", "content": "hello"}]


def test_bad_key_is_401_in_both_shapes(gw):
    with pytest.raises(openai.AuthenticationError) as caught:
        gw.openai(key="sb_not-a-key").chat.completions.create(model="fake/fake-gpt", messages=CHAT)
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as refused:
        gw.anthropic(key="sb_not-a-key").messages.create(
            model="fake/fake-gpt", max_tokens=10, messages=CHAT
        )
    assert refused.value.body["error"]["type"] == "authentication_error"
    missing = httpx.post(f"{gw.url}/inference", json={"text": "x"})
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]


def test_unknown_model_is_404_in_each_protocol(gw):
    with pytest.raises(openai.NotFoundError) as caught:
        gw.openai().chat.completions.create(model="fake/no-such-model", messages=CHAT)
    assert caught.value.body == {
        "message": "The model 'fake/no-such-model' does not exist or is not available here.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    with pytest.raises(anthropic.NotFoundError) as missing:
        gw.anthropic().messages.create(model="nobody/model", max_tokens=10, messages=CHAT)
    assert missing.value.body["type"] == "error"
    assert missing.value.body["error"]["type"] == "not_found_error"
    native = httpx.post(
        f"{gw.url}/inference",
        json={"model_id": "nope", "text": "x", "schema": {"entities": ["a"]}},
        headers=gw.headers(),
    )
    assert native.status_code == 404 and "nope" in native.json()["detail"]
    assert native.json()["field"] == "model_id"  # the native request names it so
    rows = gw.rows(3)
    assert [(r.status, r.http_status) for r in rows] == [("error", 404)] * 3
    assert {r.model_id for r in rows} == {"fake/no-such-model", "nobody/model", "nope"}


def test_another_projects_models_do_not_exist(gw, other):
    membership, key = other
    with pytest.raises(openai.NotFoundError):
        gw.openai(key=key).chat.completions.create(model="fake/fake-gpt", messages=CHAT)
    with pytest.raises(openai.NotFoundError):
        gw.openai(key=key).models.retrieve("support")
    assert Inference.objects.filter(project=membership.project).count() == 1
    assert not Inference.objects.filter(project=gw.project).exists()


def test_upstream_failure_is_502_and_recorded(gw, fake_openai):
    fake_openai.script(fail_status=500, fail_times=10)
    with pytest.raises(openai.InternalServerError) as caught:
        gw.openai().chat.completions.create(model="fake/fake-gpt", messages=CHAT)
    assert caught.value.status_code == 502
    assert caught.value.body["type"] == "api_error"
    assert caught.value.body["code"] == "upstream_error"
    assert "internal error" in caught.value.body["message"]
    [row] = gw.rows(1)
    assert (row.status, row.http_status) == ("error", 502)
    assert "HTTP 500" in row.error
    assert len(fake_openai.requests) == 2  # one retry, then the caller decides


def test_upstream_failure_before_a_stream_starts_is_an_http_error(gw, fake_anthropic):
    fake_anthropic.script(fail_status=500, fail_times=10)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        gw.anthropic().messages.stream(
            model="claude/claude-fake-1", max_tokens=10, messages=CHAT
        ) as stream,
    ):
        stream.get_final_message()
    assert caught.value.status_code == 502
    [row] = gw.rows(1)
    assert (row.status, row.http_status) == ("error", 502)


def test_upstream_rate_limit_is_429_with_retry_after(gw, fake_openai):
    fake_openai.script(fail_status=429, retry_after=30, fail_times=10)
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": "fake/fake-gpt", "messages": CHAT},
        headers=gw.headers(),
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert len(fake_openai.requests) == 1  # 30 s is too long to wait inside a call


def test_failure_mid_stream_is_an_error_event_and_recorded(gw, fake_openai):
    fake_openai.enqueue({"stall_after_chunks": 2})
    fake_openai.script()
    # The gateway's read timeout is the provider's: make the stall end it quickly.
    gw.project.providers.filter(name="fake").update(timeout_seconds=1)
    stream = gw.openai().chat.completions.create(model="fake/fake-gpt", messages=CHAT, stream=True)
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            pass
    assert "No answer from the provider" in str(caught.value)
    [row] = gw.rows(1)
    assert row.streamed and row.status == "error" and row.http_status == 504
    assert len(row.output_text) == 16 and row.output_text.startswith("Fake ans")  # 2 chunks


def test_client_leaving_mid_stream_is_recorded(gw, fake_openai):
    fake_openai.script(chunk_delay=0.2)
    body = {"model": "fake/fake-gpt", "stream": True, "messages": CHAT}
    with httpx.stream(
        "POST", f"{gw.url}/v1/chat/completions", json=body, headers=gw.headers()
    ) as response:
        for line in response.iter_lines():
            if '"content":"Fake' in line:
                break  # leave after the first words
    [row] = gw.rows(1)
    assert (row.status, row.http_status) == ("error", 499)
    assert row.output_text.startswith("Fake") and row.streamed


def test_bad_json_and_wrong_method(gw):
    response = httpx.post(
        f"{gw.url}/v1/chat/completions", content=b"{not json", headers=gw.headers()
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is not valid JSON."
    assert httpx.get(f"{gw.url}/v1/chat/completions", headers=gw.headers()).status_code == 405
    [row] = gw.rows(1)
    assert row.http_status == 400 and row.request["_invalid_json"] == "{not json"


def test_no_row_is_lost_on_normal_shutdown(transactional_db, fake_openai, other):
    """Rows still queued when the server is told to stop are written before it exits."""
    from tests.factories import ProviderFactory

    membership, key = other
    ProviderFactory(
        project=membership.project, name="fake", base_url=fake_openai.base_url,
        default_model="fake-gpt", max_concurrency=64,
    )  # fmt: skip
    # Rows wait 30 s for their batch: only the shutdown can have written them.
    server = GatewayServer(env=server_env(INFERENCE_HISTORY_FLUSH_SECONDS="30")).wait_ready()
    try:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)

        def call(_: int) -> str:
            return client.chat.completions.create(model="fake/fake-gpt", messages=CHAT).id

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            ids = list(pool.map(call, range(60)))
    finally:
        code = server.stop()
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM), server.logs()
    rows = Inference.objects.filter(project=membership.project)
    assert rows.count() == 60
    assert sorted(f"chatcmpl-{pk}" for pk in rows.values_list("pk", flat=True)) == sorted(ids)


def test_options_the_gateway_would_drop_are_refused_by_name(gw, fake_openai):
    client = gw.openai()
    refused = {
        "echo": lambda: client.completions.create(model="fake/fake-gpt", prompt="Hi", echo=True),
        "logprobs": lambda: client.chat.completions.create(
            model="fake/fake-gpt", messages=CHAT, logprobs=True
        ),
        "previous_response_id": lambda: client.responses.create(
            model="fake/fake-gpt", input="And then?", previous_response_id="resp_1"
        ),
    }
    for name, call in refused.items():
        with pytest.raises(openai.BadRequestError) as caught:
            call()
        assert caught.value.body["message"] == f"{name} is not supported by this gateway."
        assert caught.value.body["param"] == name
    assert not [r for r in fake_openai.requests if "completions" in r["path"]]
    # Their "off" values are what the SDKs send by default: accepted.
    answer = client.chat.completions.create(model="fake/fake-gpt", messages=CHAT, logprobs=False)
    assert answer.choices[0].message.content


def test_a_key_of_a_user_removed_from_the_project_is_refused(gw):
    from tests.factories import MembershipFactory, api_key_for

    leaving = MembershipFactory(project=gw.membership.project, role="member")
    key = api_key_for(leaving)
    leaving.delete()
    with pytest.raises(openai.AuthenticationError):
        gw.openai(key=key).chat.completions.create(model="fake/fake-gpt", messages=CHAT)
    with pytest.raises(openai.AuthenticationError):
        gw.openai(key=key).models.list()
    assert not Inference.objects.filter(project=gw.membership.project).exists()
