"""The real SmolLM2 server (llama-cpp-python) behind the same client as every provider."""

import jsonschema
import pytest

from apps.core import services
from apps.core.llm import LLMClient, run_sync

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer"},
        "landmarks": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["city", "population", "landmarks"],
}


def test_chat_with_json_schema_returns_valid_json(embedded_llm):
    project = services.project_create(name="Embedded check")
    provider = project.providers.get(name="embedded")
    config = services.provider_config(provider=provider)

    async def ask():
        return await LLMClient(config).chat(
            [{"role": "user", "content": "Describe Paris as JSON."}],
            json_schema=SCHEMA,
            max_tokens=200,
            temperature=0.2,
        )

    result = run_sync(ask)
    import json

    data = json.loads(result.content)
    jsonschema.validate(data, SCHEMA)
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert result.model


def test_provider_lists_the_embedded_model(embedded_llm):
    project = services.project_create(name="Embedded models")
    provider = project.providers.get(name="embedded")
    assert services.provider_test_connection(provider=provider) == ["smollm2-135m-instruct"]
