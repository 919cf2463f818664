"""Fixtures for the fake LLM providers.

The servers are started once per session (in background threads) and reset before every
test, so each test sees an empty request log, no script and no responder.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .anthropic_server import FakeAnthropic
from .openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def _fake_anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    _fake_openai_server.reset()
    yield _fake_openai_server
    _fake_openai_server.reset()  # also ends requests a test left stalled


@pytest.fixture
def fake_anthropic(_fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    _fake_anthropic_server.reset()
    yield _fake_anthropic_server
    _fake_anthropic_server.reset()


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    """Let providers on 127.0.0.1 (the fakes) pass the SSRF guard for this test."""
    settings.PROVIDER_HOST_ALLOWLIST = [*settings.PROVIDER_HOST_ALLOWLIST, "127.0.0.1"]
