"""The gateway and the inference history in the OpenAPI schema (/api/schema/, /api/docs/)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import resolve

from apps.inference.gateway import anthropic_api, native, openai_api, responses_api
from apps.inference.gateway.asgi import GatewayHandler
from apps.inference.recording import inference_record

pytestmark = pytest.mark.django_db

GATEWAY = {
    "/inference": ("post", native.inference),
    "/v1/chat/completions": ("post", openai_api.chat_completions),
    "/v1/completions": ("post", openai_api.completions),
    "/v1/responses": ("post", responses_api.responses),
    "/v1/messages": ("post", anthropic_api.messages),
    "/v1/models": ("get", openai_api.models),
    "/v1/models/{model_id}": ("get", openai_api.models),
}


@pytest.fixture
def schema(owner_client: Client) -> dict[str, Any]:
    response = owner_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def component(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def request_body(schema: dict[str, Any], path: str) -> dict[str, Any]:
    content = schema["paths"][path]["post"]["requestBody"]["content"]
    assert list(content) == ["application/json"]
    return component(schema, content["application/json"]["schema"]["$ref"])


def test_gateway_endpoints_are_documented_with_key_auth(schema):
    paths = schema["paths"]
    for path, (method, _) in GATEWAY.items():
        assert list(paths.get(path, {})) == [method], path
        security = paths[path][method]["security"]
        # An API key in either header; no session cookie (the gateway has no middleware).
        assert security == [{"ApiKey": []}, {"Bearer": []}], path
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"] == {**schemes["Bearer"], "type": "http", "scheme": "bearer"}
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_gateway_request_and_response_bodies(schema):
    chat = request_body(schema, "/v1/chat/completions")
    assert {"model", "messages"} <= set(chat["required"])
    assert {"stream", "temperature", "max_tokens", "schema"} <= set(chat["properties"])
    message = component(schema, chat["properties"]["messages"]["items"]["$ref"])
    assert {"role", "content"} <= set(message["properties"])
    anthropic = request_body(schema, "/v1/messages")
    assert {"model", "messages", "max_tokens"} <= set(anthropic["required"])
    native_body = request_body(schema, "/inference")
    assert {"model_id", "text", "schema", "threshold", "task", "messages"} <= set(
        native_body["properties"]
    )
    assert set(request_body(schema, "/v1/completions")["required"]) >= {"model", "prompt"}
    assert set(request_body(schema, "/v1/responses")["required"]) >= {"model", "input"}

    responses = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    answer = component(schema, responses["200"]["content"]["application/json"]["schema"]["$ref"])
    assert {"id", "object", "choices", "usage"} <= set(answer["properties"])
    error = component(schema, responses["400"]["content"]["application/json"]["schema"]["$ref"])
    assert set(error["properties"]) == {"error"}
    anthropic_200 = schema["paths"]["/v1/messages"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in anthropic_200
    native_200 = schema["paths"]["/inference"]["post"]["responses"]["200"]["content"]
    result = component(schema, native_200["application/json"]["schema"]["$ref"])
    shapes = [component(schema, one["$ref"]) for one in result["oneOf"]]
    assert [set(s["required"]) >= {"id", "usage"} for s in shapes] == [True, True]


def test_documenting_leaves_the_gateway_views_unwrapped():
    # The gateway's latency budget: the URL still resolves to the bare async view, and the
    # lean ASGI handler still routes to it directly.
    routes = GatewayHandler().routes()
    for path, (_, view) in GATEWAY.items():
        url = path.replace("{model_id}", "embedded/smollm2")
        assert resolve(url).func is view, path
        if "{" not in path:
            assert routes[path].__wrapped__ is view, path  # type: ignore[attr-defined]


def test_history_list_is_documented_as_the_page_it_answers(schema, owner, owner_key):
    operation = schema["paths"]["/inferences"]["get"]
    assert operation["operationId"] == "pioneer_inferences_list"
    page = component(
        schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    )
    inference_record(
        project=owner.project,
        model_id="fake/fake-gpt",
        protocol="openai",
        task="chat",
        request={},
        status="ok",
    )
    body = Client().get("/inferences", HTTP_X_API_KEY=owner_key).json()
    assert set(body) == set(page["properties"])
    row = component(schema, page["properties"]["results"]["items"]["$ref"])
    assert set(body["results"][0]) == set(row["properties"])
    feedback = schema["paths"]["/inferences/{inference_id}/feedback"]["post"]
    assert {"verdict", "corrected_output"} <= set(request_body_of(schema, feedback))


def request_body_of(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return component(schema, ref)["properties"]
