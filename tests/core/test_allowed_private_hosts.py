"""The private-address allow-list that superusers manage in the admin."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.core.allowlist import allowlist_changed
from apps.core.llm import LLMClient, ProviderConfig, ProviderRefused, clear_guard_cache
from apps.core.models import AllowedPrivateHost, Provider
from apps.core.urlguard import UnsafeURLError, check_provider_url
from tests.factories import UserFactory
from tests.fakes.helpers import run_async
from tests.fakes.openai_server import FakeOpenAI

ADD_URL = "/admin/core/allowedprivatehost/add/"
PROVIDER_FORM = {
    "name": "lan-vllm",
    "kind": "openai",
    "base_url": "http://10.0.0.7:8000/v1",
    "structured_output": "json_schema",
    "max_concurrency": 4,
    "timeout_seconds": 30,
}


@pytest.fixture(autouse=True)
def _fresh_allowlist(settings: Any) -> Iterator[None]:
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1:8765"]  # the embedded server only
    allowlist_changed()
    clear_guard_cache()
    yield
    allowlist_changed()  # rows of a rolled-back test must not linger in the cache
    clear_guard_cache()


@pytest.fixture
def superuser_client(db: Any) -> Client:
    user: Any = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_superuser_adds_a_lan_host_and_a_provider_on_it_is_accepted_at_once(
    superuser_client: Client, owner_client: Client, owner: Any
) -> None:
    refused = owner_client.post("/providers/new/", PROVIDER_FORM)
    assert "resolves to 10.0.0.7" in refused.content.decode()

    response = superuser_client.post(
        ADD_URL, {"host": "10.0.0.7:8000", "note": "the team's vLLM box"}
    )

    assert response.status_code == 302, response.content.decode()
    row = AllowedPrivateHost.objects.get()
    assert row.host == "10.0.0.7:8000"
    assert row.created_by is not None and row.created_by.is_superuser
    accepted = owner_client.post("/providers/new/", PROVIDER_FORM)
    assert accepted.status_code == 302
    assert Provider.objects.filter(project=owner.project, name="lan-vllm").exists()
    with pytest.raises(UnsafeURLError):
        check_provider_url("http://10.0.0.7:9000/v1")  # the entry names a port


@pytest.mark.django_db
def test_removing_the_entry_refuses_the_host_again(superuser_client: Client) -> None:
    superuser_client.post(ADD_URL, {"host": "10.0.0.7", "note": ""})
    check_provider_url("http://10.0.0.7:8000/v1")
    row = AllowedPrivateHost.objects.get()

    response = superuser_client.post(
        f"/admin/core/allowedprivatehost/{row.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    with pytest.raises(UnsafeURLError):
        check_provider_url("http://10.0.0.7:8000/v1")


@pytest.mark.django_db
def test_staff_without_superuser_cannot_see_or_edit_the_allow_list(db: Any) -> None:
    staff: Any = UserFactory(is_staff=True)
    # Even with every model permission granted, the list is for superusers only.
    staff.user_permissions.set(Permission.objects.filter(content_type__model="allowedprivatehost"))
    client = Client()
    client.force_login(staff)

    assert client.get("/admin/core/allowedprivatehost/").status_code == 403
    assert client.post(ADD_URL, {"host": "10.0.0.7", "note": ""}).status_code == 403
    assert not AllowedPrivateHost.objects.exists()
    with pytest.raises(UnsafeURLError):
        check_provider_url("http://10.0.0.7/v1")


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ["169.254.169.254", "[fd00:ec2::254]:80", "fd00:ec2::254"])
def test_metadata_addresses_cannot_be_allow_listed(superuser_client: Client, entry: str) -> None:
    response = superuser_client.post(ADD_URL, {"host": entry, "note": ""})

    assert response.status_code == 200
    assert "metadata" in response.content.decode()
    assert not AllowedPrivateHost.objects.exists()


@pytest.mark.django_db
def test_a_host_name_allow_listed_in_the_admin_still_cannot_reach_metadata(
    superuser_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "vllm.lan":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    superuser_client.post(ADD_URL, {"host": "vllm.lan", "note": ""})
    assert AllowedPrivateHost.objects.filter(host="vllm.lan").exists()

    with pytest.raises(UnsafeURLError, match="metadata"):
        check_provider_url("http://vllm.lan/v1")


@pytest.mark.django_db(transaction=True)
def test_calls_from_workers_follow_the_admin_list_without_a_restart(
    superuser_client: Client, fake_openai: FakeOpenAI
) -> None:
    """The run engine and the gateway check on their own threads and connections."""
    config = ProviderConfig(
        key=f"test:{uuid.uuid4().hex[:8]}",
        kind="openai",
        base_url=fake_openai.base_url,
        default_model="fake-model",
        max_attempts=1,
    )

    async def chat() -> Any:
        return await LLMClient(config).chat([{"role": "user", "content": "Hi"}])

    with pytest.raises(ProviderRefused, match=r"resolves to 127\.0\.0\.1"):
        run_async(chat())

    superuser_client.post(ADD_URL, {"host": f"127.0.0.1:{fake_openai.port}", "note": "fake"})

    assert run_async(chat()).content
    assert len(fake_openai.requests) == 1
