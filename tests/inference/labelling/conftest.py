"""Fixtures of the labelling tests: the gateway's `extract` replaced by a scripted
coroutine (random latencies, failures on demand) so that order, limits and chunking are
tested exactly, and a project provider for it to answer as."""

import asyncio
import hashlib
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.llm import ProviderUnreachable
from tests.factories import ProviderFactory
from tests.inference.labelling.helpers import KNOWN


async def scripted_extract(
    *, provider: Any, upstream_model: str, text: str, schema: dict, threshold: float
) -> dict[str, Any]:
    """Entities from a fixed word list, a class from keywords; latency from the text, so
    answers finish out of order; texts containing FAIL fail like an unreachable upstream."""
    await asyncio.sleep(int(hashlib.sha256(text.encode()).hexdigest()[:2], 16) / 255 * 0.05)
    if "FAIL" in text:
        raise ProviderUnreachable("The provider could not be reached.")
    if "entities" in schema:
        wanted = schema["entities"]
        entities: list[dict[str, Any]] = []
        for word, label in KNOWN.items():
            start = text.find(word)
            if start >= 0 and label in wanted:
                entities.append(
                    {
                        "text": word,
                        "label": label,
                        "start": start,
                        "end": start + len(word),
                        "confidence": 0.9,
                    }
                )
        entities.sort(key=lambda e: e["start"])
        return {"entities": entities, "usage": {"input_tokens": 10, "output_tokens": 5}}
    spec = schema["classifications"][0]
    label = "billing" if "invoice" in text else "bug"
    if spec.get("multi_label"):
        labels = [label] + (["urgent"] if "now" in text and "urgent" in spec["labels"] else [])
        return {"classifications": [{"task": spec["task"], "labels": labels, "confidence": 0.8}]}
    return {"classifications": [{"task": spec["task"], "label": label, "confidence": 0.8}]}


@pytest.fixture
def fake_extract(monkeypatch):
    from apps.inference.gateway import extraction

    monkeypatch.setattr(extraction, "extract", scripted_extract)
    return scripted_extract


@pytest.fixture
def provider(owner):
    return ProviderFactory(project=owner.project, name="fake", default_model="fake-gpt")


@pytest.fixture
def api(owner_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=owner_key)
    return client


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, int, int]]:
    """The steps sent to the workers (kind, job id, step), instead of the broker."""
    from apps.core import tasks

    calls: list[tuple[str, int, int]] = []

    def record(args: tuple[str, int, int], **options: Any) -> None:
        calls.append(tuple(args))  # type: ignore[arg-type]

    monkeypatch.setattr(tasks.job_step_task, "apply_async", record)
    return calls
