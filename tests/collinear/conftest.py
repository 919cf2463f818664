"""Fixtures for the Collinear API: a project whose model is the fake OpenAI server's,
answering fan-out calls with variations of their example, and the servers to call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from apps.core.models import Membership
from apps.inference.registry import model_uuid
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.inference.server import GatewayServer

from . import responders

PATH = "/api/v1/synth_data/generate"


@dataclass
class Collinear:
    """A client of the Collinear API as its docs show it: Bearer key, JSON body."""

    base_url: str
    membership: Membership
    key: str
    model_id: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def body(self, examples: list[dict[str, Any]], multiplier: int, **extra: Any) -> dict:
        return {
            "model_id": self.model_id,
            "multiplier": multiplier,
            "examples": examples,
            "prompt": "Write another turn of this support conversation.",
            **extra,
        }

    def post(self, body: Any, key: str | None = None) -> httpx.Response:
        if isinstance(body, bytes | str):
            headers = {**self.headers(key), "Content-Type": "application/json"}
            return httpx.post(f"{self.base_url}{PATH}", content=body, headers=headers, timeout=120)
        return httpx.post(
            f"{self.base_url}{PATH}", json=body, headers=self.headers(key), timeout=120
        )


@pytest.fixture
def fan_out_project(fake_openai: Any, allow_loopback: None) -> tuple[Membership, str, str]:
    """(membership, its API key, the model UUID of its fake provider)."""
    fake_openai.responder = responders.variations
    membership: Membership = MembershipFactory()  # type: ignore[assignment]
    provider = ProviderFactory(
        project=membership.project,
        name="fake",
        base_url=fake_openai.base_url,
        default_model="fake-gpt",
        max_concurrency=8,
    )
    return membership, api_key_for(membership), str(model_uuid(f"{provider.name}/fake-gpt"))


@pytest.fixture
def live_collinear(live_server: Any, fan_out_project: Any) -> Collinear:
    """The API on pytest-django's live server (WSGI: a streamed body arrives whole)."""
    return Collinear(live_server.url, *fan_out_project)


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[GatewayServer]:
    """uvicorn serving config.asgi, as production does: the rows really stream."""
    with django_db_blocker.unblock():
        server = GatewayServer().wait_ready()
    yield server
    server.stop()
    time.sleep(0.5)  # its database sessions end a moment after it exits


@pytest.fixture
def asgi_collinear(asgi_server: GatewayServer, fan_out_project: Any) -> Collinear:
    return Collinear(asgi_server.base_url, *fan_out_project)
