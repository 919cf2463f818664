"""DNS rebinding: the address a call connects to is the address the SSRF guard checked.

The fake provider listens on loopback. A host name whose first answer is a public
address and whose later answers are 127.0.0.1 passes a check-then-connect guard and
lands on the fake; with the resolver pinned into the connection pool, the connect-time
answer is checked and refused, and no request reaches the fake.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.core.llm import LLMClient, ProviderConfig, ProviderRefused, clear_guard_cache
from apps.core.llm.client import list_models_sync
from tests.fakes.helpers import run_async
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.django_db  # a refused private address consults the admin list

PUBLIC = "93.184.215.14"
HELLO = [{"role": "user", "content": "Hi"}]


class RebindingDNS:
    """Answers `host` with `answers[0]` first, then always with `answers[-1]`."""

    def __init__(self, host: str, answers: list[str]) -> None:
        self.host = host
        self.answers = answers
        self.lookups = 0
        self._lock = threading.Lock()

    def answer(self) -> str:
        with self._lock:
            self.lookups += 1
            return self.answers[min(self.lookups, len(self.answers)) - 1]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., RebindingDNS]]:
    real = socket.getaddrinfo
    hosts: dict[str, RebindingDNS] = {}

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in hosts:
            return real(host, port, *args, **kwargs)
        address = hosts[name].answer()
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))]

    def install(host: str, *answers: str) -> RebindingDNS:
        hosts[host] = RebindingDNS(host, list(answers))
        return hosts[host]

    # aiohttp's default (threaded) resolver and the guard both end in socket.getaddrinfo.
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    clear_guard_cache()
    yield install
    clear_guard_cache()


def _config(base_url: str) -> ProviderConfig:
    return ProviderConfig(
        key=f"test:{uuid.uuid4().hex[:8]}",
        kind="openai",
        base_url=base_url,
        default_model="fake-model",
        max_attempts=1,
        connect_timeout=2.0,
        timeout_seconds=5.0,
    )


async def _chat(config: ProviderConfig) -> Any:
    return await LLMClient(config).chat(HELLO)


async def _stream(config: ProviderConfig) -> Any:
    return [chunk async for chunk in LLMClient(config).stream_chat(HELLO)]


async def _models(config: ProviderConfig) -> Any:
    return await LLMClient(config).list_models()


CALLS: dict[str, Callable[[ProviderConfig], Any]] = {
    "run call (chat)": lambda config: run_async(_chat(config)),
    "gateway stream (httpx over aiohttp)": lambda config: run_async(_stream(config)),
    "model listing": lambda config: run_async(_models(config)),
    "Test connection (sync)": lambda config: list_models_sync(config),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_a_host_that_rebinds_to_loopback_after_the_check_is_never_connected(
    call: Callable[[ProviderConfig], Any],
    dns: Callable[..., RebindingDNS],
    fake_openai: FakeOpenAI,
    settings: Any,
) -> None:
    settings.PROVIDER_HOST_ALLOWLIST = []
    rebinding = dns("rebind.example", PUBLIC, "127.0.0.1")
    config = _config(f"http://rebind.example:{fake_openai.port}/v1")

    with pytest.raises(ProviderRefused, match=r"127\.0\.0\.1"):
        call(config)

    assert rebinding.lookups >= 2  # the guard's answer, then the connection's own
    assert fake_openai.requests == []


def test_test_connection_page_refuses_a_rebound_host(
    dns: Callable[..., RebindingDNS],
    fake_openai: FakeOpenAI,
    owner_client: Any,
    owner: Any,
    settings: Any,
) -> None:
    from apps.core.services import provider_create

    settings.PROVIDER_HOST_ALLOWLIST = []
    # Public when the provider is saved and when the call is checked, loopback at connect.
    dns("rebind.example", PUBLIC, PUBLIC, "127.0.0.1")
    provider = provider_create(
        membership=owner,
        name="rebinder",
        kind="openai",
        base_url=f"http://rebind.example:{fake_openai.port}/v1",
    )  # checked here: the first answer is public

    page = owner_client.post(f"/providers/{provider.pk}/test/").content.decode()

    assert "127.0.0.1" in page and "refused" in page
    assert fake_openai.requests == []


def test_a_connection_resolves_once_and_its_requests_reuse_it(
    dns: Callable[..., RebindingDNS], fake_openai: FakeOpenAI, settings: Any
) -> None:
    settings.PROVIDER_HOST_ALLOWLIST = ["lan-vllm.example"]
    lookups = dns("lan-vllm.example", "127.0.0.1")
    config = _config(f"http://lan-vllm.example:{fake_openai.port}/v1")

    async def five_calls() -> None:
        client = LLMClient(config)
        for _ in range(5):
            await client.chat(HELLO)

    run_async(five_calls())

    assert len(fake_openai.requests) == 5
    # At most one lookup by the guard (its verdict is kept for a minute) and one when the
    # connection opened; the five requests themselves cost none.
    assert lookups.lookups <= 2
