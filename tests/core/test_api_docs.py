import pytest

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_the_api_with_key_auth(owner_client):
    response = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    for path in ("/api/v1/providers/", "/api/v1/runs/", "/api/v1/specs/", "/generate"):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"


def test_docs_page_uses_only_local_assets(owner_client):
    body = owner_client.get("/api/docs/").content.decode()
    assert "swagger-ui" in body
    assert "cdn." not in body and "unpkg" not in body and "jsdelivr" not in body


def test_operations_are_grouped_by_resource_with_unique_ids(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = [
        (path, operation) for path, item in schema["paths"].items() for operation in item.values()
    ]
    tags = {path: operation["tags"] for path, operation in operations}
    assert tags["/api/v1/runs/"] == ["runs"]
    assert tags["/api/v1/datasets/{dataset_id}/samples/"] == ["datasets"]
    assert tags["/api/v1/inferences/"] == ["inferences"]
    assert tags["/generate"] == ["pioneer-compatible"]
    assert tags["/inferences"] == ["pioneer-compatible"]
    ids = [operation["operationId"] for _, operation in operations]
    assert len(ids) == len(set(ids))
    assert not any(i.endswith("_2") for i in ids)


def test_operations_document_the_errors_they_can_answer(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    def codes(path: str, method: str) -> list[str]:
        return sorted(schema["paths"][path][method]["responses"])

    # 200: a dry run's estimate.
    assert codes("/api/v1/runs/", "post") == ["200", "201", "400", "401", "403", "413"]
    assert codes("/api/v1/runs/{run_id}/", "get") == ["200", "401", "404"]
    assert codes("/api/v1/runs/{run_id}/cancel/", "post") == ["202", "401", "403", "404"]
    assert codes("/api/v1/providers/", "get") == ["200", "401"]
    assert codes("/generate", "post") == ["202", "400", "401", "403", "413", "429"]
    assert codes("/generate/ner/label-existing", "post")[-3:] == ["413", "429", "502"]
    # The gateway keeps its own error shapes: no DRF 403 is added to it.
    assert "403" not in codes("/v1/chat/completions", "post")
    bad_input = schema["paths"]["/api/v1/runs/"]["post"]["responses"]["400"]
    field_errors = bad_input["content"]["application/json"]["schema"]
    # A field's messages, or (a list's items, a nested object's fields) its own errors.
    per_field = field_errors["additionalProperties"]["anyOf"]
    assert per_field[0] == {"type": "array", "items": {"type": "string"}}
    assert per_field[1]["type"] == "object"
    not_found = schema["paths"]["/api/v1/runs/{run_id}/"]["get"]["responses"]["404"]
    ref = not_found["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["required"] == ["detail"]
    job = schema["paths"]["/generate"]["post"]["responses"]["202"]
    assert job["content"]["application/json"]["schema"]["$ref"].endswith("/GenerateAccepted")
