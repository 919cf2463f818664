"""Fixtures for the gateway tests: one real uvicorn server for the session, and a project
whose providers point at the fake OpenAI and Anthropic servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from django.db import connection

from apps.core.models import Membership, Project
from apps.inference.models import Inference, ModelAlias
from tests.factories import MembershipFactory, ProviderFactory, api_key_for

from .server import GatewayServer, wait_until


@pytest.fixture(scope="session")
def gateway_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[GatewayServer]:
    with django_db_blocker.unblock():
        server = GatewayServer().wait_ready()
    yield server
    server.stop()
    with django_db_blocker.unblock():
        # Its backends end a moment after it exits, and the test database is dropped
        # next: give them that moment (best effort, other sessions are not ours).
        deadline = time.monotonic() + 5
        while _other_sessions() and time.monotonic() < deadline:
            time.sleep(0.1)


def _other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


@dataclass
class Gateway:
    server: GatewayServer
    membership: Membership
    key: str

    @property
    def project(self) -> Project:
        return self.membership.project

    @property
    def url(self) -> str:
        return self.server.base_url

    def openai(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=key or self.key, max_retries=0, timeout=30
        )

    def anthropic(self, key: str | None = None) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url, api_key=key or self.key, max_retries=0, timeout=30
        )

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.key}

    def rows(self, count: int, timeout: float = 5.0) -> list[Inference]:
        """The project's history once it holds `count` rows (newest first)."""
        found = Inference.objects.filter(project=self.project)
        wait_until(lambda: found.count() >= count, timeout, f"{count} history rows")
        return list(found.order_by("-id"))


@pytest.fixture
def gw(transactional_db, gateway_server, fake_openai, fake_anthropic):
    """A project with providers `fake` (OpenAI-style), `claude` (Anthropic) and the alias
    `support` -> fake/fake-gpt-mini; its key; the running gateway."""
    membership = MembershipFactory()
    fake = ProviderFactory(
        project=membership.project,
        name="fake",
        base_url=fake_openai.base_url,
        default_model="fake-gpt",
        max_concurrency=64,
    )
    ProviderFactory(
        project=membership.project,
        name="claude",
        kind="anthropic",
        base_url=fake_anthropic.base_url,
        default_model="claude-fake-1",
        structured_output="none",
    )
    ModelAlias.objects.create(
        project=membership.project, alias="support", provider=fake, model="fake-gpt-mini"
    )
    return Gateway(gateway_server, membership, api_key_for(membership))


@pytest.fixture
def other(transactional_db):
    """Another project and its key."""
    membership = MembershipFactory()
    return membership, api_key_for(membership)
