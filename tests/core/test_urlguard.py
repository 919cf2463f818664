import socket

import pytest
from django.test import Client

from apps.core.urlguard import UnsafeURLError, check_provider_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1",
        "http://[::1]:8000/v1",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/v1",
        "http://192.168.0.10/v1",
        "http://0.0.0.0:80/v1",
    ],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(UnsafeURLError, match="private, loopback, link-local or reserved"):
        check_provider_url(url)


def test_host_name_resolving_to_private_address_is_refused(monkeypatch):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if host == "internal.corp.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(UnsafeURLError, match=r"10\.20\.30\.40"):
        check_provider_url("https://internal.corp.example/v1")


def test_allow_listed_host_is_accepted(settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["10.1.2.3:8000", "127.0.0.1:8765"]
    check_provider_url("http://10.1.2.3:8000/v1")
    check_provider_url("http://127.0.0.1:8765/v1")
    with pytest.raises(UnsafeURLError):
        check_provider_url("http://10.1.2.3:9000/v1")  # other port, not allowed


def test_credentials_in_url_and_other_schemes_are_refused():
    with pytest.raises(UnsafeURLError, match="API key field"):
        check_provider_url("https://user:pw@api.example.com/v1")
    with pytest.raises(UnsafeURLError, match="http"):
        check_provider_url("file:///etc/passwd")


def test_api_refuses_private_base_url_with_clear_400(owner_key):
    response = Client().post(
        "/api/v1/providers/",
        {"name": "meta", "kind": "openai", "base_url": "http://169.254.169.254/v1"},
        content_type="application/json",
        HTTP_X_API_KEY=owner_key,
    )
    assert response.status_code == 400
    assert "169.254.169.254" in response.json()["base_url"][0]


def test_page_refuses_private_base_url_inline(owner_client):
    response = owner_client.post(
        "/providers/new/",
        {
            "name": "lan",
            "kind": "openai",
            "base_url": "http://10.0.0.5/v1",
            "structured_output": "json_schema",
            "max_concurrency": 4,
            "timeout_seconds": 30,
        },
    )
    assert response.status_code == 200
    assert "resolves to 10.0.0.5" in response.content.decode()
