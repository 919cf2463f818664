"""A real uvicorn serving Seedbed (the streams are async views under ASGI), a project
whose embedded provider is the fake OpenAI server, and httpx calls shaped like the
official withpi client's (`PI_CLIENT_BASE_URL=<server>/v1`, header `x-api-key`)."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from apps.core.models import Membership, Role
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.inference.conftest import gateway_server  # noqa: F401  (the session's uvicorn)
from tests.inference.server import GatewayServer
from tests.runs.responders import _batch_size, _schema

# What the Stainless client sends with every call.
CLIENT_HEADERS = {"X-Stainless-Lang": "python", "X-Stainless-Package-Version": "1.78.1"}
GENERATE = "/data/generate"
PAIRS = "/data/generate_input_response_pairs"


@dataclass
class Pi:
    """The withpi client's calls (PI-PY resources/data/generate*.py) over httpx."""

    server: GatewayServer
    membership: Membership
    key: str

    @property
    def base_url(self) -> str:
        return f"{self.server.base_url}/v1"

    def client(self, key: str | None = None, timeout: float | None = 60.0) -> httpx.Client:
        headers = {**CLIENT_HEADERS, "x-api-key": key if key is not None else self.key}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def start(self, body: dict[str, Any], path: str = GENERATE) -> dict[str, Any]:
        with self.client() as client:
            response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def retrieve(self, job_id: str, path: str = GENERATE) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"{path}/{job_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def stream_lines(self, job_id: str, stream: str, path: str = GENERATE) -> Iterator[str]:
        """`with_streaming_response.stream_<stream>(job_id, timeout=None)`, line by line."""
        with (
            self.client(timeout=None) as client,
            client.stream(
                "GET", f"{path}/{job_id}/{stream}", headers={"Accept": "text/plain"}
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            yield from response.iter_lines()


def read_in_background(
    pi: Pi, job_id: str, stream: str, path: str = GENERATE
) -> tuple[list[str], threading.Thread]:
    """The stream's lines as they arrive (appended one by one), and the reading thread."""
    lines: list[str] = []

    def read() -> None:
        for line in pi.stream_lines(job_id, stream, path=path):
            lines.append(line)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return lines, thread


def distinct_samples() -> Callable[[dict[str, Any]], str]:
    """A fake model's answers: every string field of every sample distinct and far from
    the others (a hash in it), so that none is a near-duplicate of another."""
    counter = itertools.count()

    def respond(data: dict[str, Any]) -> str:
        fields = _schema(data)["properties"]["samples"]["items"]["properties"]
        samples = []
        for _ in range(_batch_size(data)):
            n = next(counter)
            noise = hashlib.sha256(str(n).encode()).hexdigest()[:24]
            samples.append({name: f"{name} number {n} ({noise})" for name in fields})
        return json.dumps({"samples": samples})

    return respond


def inputs_body(**changes: Any) -> dict[str, Any]:
    """PI-UTILS tests/data/seed_request.json."""
    body = {
        "application_description": "Make a marketing post around a product I specify",
        "batch_size": 5,
        "exploration_mode": "BALANCED",
        "num_inputs_to_generate": 10,
        "num_shots": 5,
        "seeds": ["Vacuum Cleaner", "Desk Lamp", "Drink Coaster"],
    }
    return {**body, **changes}


def pairs_body(**changes: Any) -> dict[str, Any]:
    body = {
        "application_description": "A cooking assistant",
        "system_prompt": "Answer in two sentences at most.",
        "num_pairs_to_generate": 4,
        "batch_size": 2,
        "seeds": [
            {"llm_input": "How long do I boil an egg?", "llm_output": "Nine minutes."},
            {"llm_input": "Can I freeze bread?", "llm_output": "Yes, sliced, for a month."},
        ],
    }
    return {**body, **changes}


def data_of(lines: list[str]) -> list[Any]:
    return [json.loads(line) for line in lines if line]


@pytest.fixture
def pi(transactional_db, gateway_server, fake_openai) -> Pi:  # noqa: F811
    membership: Membership = MembershipFactory.create(role=Role.OWNER)
    ProviderFactory(
        project=membership.project,
        name="embedded",
        base_url=fake_openai.base_url,
        default_model="fake-gpt",
        max_concurrency=16,
    )
    fake_openai.responder = distinct_samples()
    return Pi(gateway_server, membership, api_key_for(membership))


@pytest.fixture
def other_key(transactional_db) -> str:
    """A key of another project."""
    membership: Membership = MembershipFactory.create()
    return api_key_for(membership)
