"""The official pydataframer client, unchanged, against the live test server; the spec
writer and the run's roles answered by the fake OpenAI server on loopback."""

import io
import json
import zipfile
from types import SimpleNamespace
from typing import Any

import pytest
from dataframer import Dataframer

from apps.inference.models import ModelAlias
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.runs.pipeline_model import PipelineModel

LABELS = ["billing", "bug", "feature_request"]
SPEC_ANSWER = {
    "description": "Customer support tickets of a SaaS product, each with its category.",
    "requirements": ["One or two sentences.", "The label matches the text."],
    "data_property_variations": [
        {
            "axis_name": "tone",
            "axis_description": "How the customer sounds",
            "possible_values": ["calm", "angry", "confused"],
            "probabilities": [0.5, 0.3, 0.2],
        },
        {
            "axis_name": "product_area",
            "axis_description": "Which part of the product",
            "possible_values": ["invoices", "login", "exports"],
            "probabilities": [0.4, 0.4, 0.2],
        },
    ],
}
SPEC_WRITER = "You write data specifications"


class Responder:
    """The spec writer's answer for spec-generation calls, PipelineModel for the rest."""

    def __init__(self) -> None:
        self.pipeline = PipelineModel(LABELS)
        self.spec_calls: list[dict[str, Any]] = []

    def __call__(self, data: dict[str, Any]) -> Any:
        system = str((data.get("messages") or [{}])[0].get("content", ""))
        if SPEC_WRITER in system:
            self.spec_calls.append(data)
            return json.dumps(SPEC_ANSWER)
        return self.pipeline(data)


def tickets_csv(rows: int = 6) -> bytes:
    lines = ["text,label"] + [
        f"Ticket {n}: my invoice {n} shows the wrong amount,{LABELS[n % 3]}" for n in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture
def df(transactional_db, live_server, fake_openai, allow_loopback):
    membership = MembershipFactory(user__email="owner@example.com")
    provider = ProviderFactory(
        project=membership.project,
        name="fake",
        base_url=fake_openai.base_url,
        default_model="fake-gpt",
        max_concurrency=8,
    )
    # Dataframer names map onto the project's models through aliases (README).
    ModelAlias.objects.create(
        project=membership.project, alias="claude-haiku-4-5", provider=provider, model="fake-gpt"
    )
    responder = Responder()
    fake_openai.responder = responder
    client = Dataframer(api_key=api_key_for(membership), base_url=live_server.url, max_retries=0)
    return SimpleNamespace(
        client=client,
        membership=membership,
        provider=provider,
        responder=responder,
        url=live_server.url,
    )
