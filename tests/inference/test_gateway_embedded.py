"""The real embedded model (SmolLM2 via llama.cpp) behind the native `/inference`."""

from __future__ import annotations

import httpx
import pytest

from apps.core.services import provider_ensure_embedded

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TEXT = "Marie Curie worked in Paris."


def test_entity_offsets_slice_the_text_exactly(gw, embedded_llm):
    provider = provider_ensure_embedded(project=gw.project)
    response = httpx.post(
        f"{gw.url}/inference",
        json={
            "model_id": f"embedded/{provider.default_model}",
            "text": TEXT,
            "schema": {"entities": ["person", "city"]},
            "threshold": 0,
        },
        headers=gw.headers(),
        timeout=120,
    )
    assert response.status_code == 200, response.text
    entities = response.json()["entities"]
    assert entities, "the model found nothing Seedbed could locate in the text"
    for entity in entities:
        assert TEXT[entity["start"] : entity["end"]] == entity["text"]
        assert entity["label"] in ("person", "city")
        assert 0 <= entity["confidence"] <= 1
    [row] = gw.rows(1)
    assert row.provider == provider and row.status == "ok" and row.output_tokens > 0
