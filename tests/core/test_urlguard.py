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
    with pytest.raises(UnsafeURLError, match=r"private, loopback|cloud metadata"):
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


# ---- IPv4 embedded in IPv6, metadata, parser tricks ---------------------------------

EMBEDDED_REFUSED = [
    # NAT64 (64:ff9b::/96): the gateway forwards to the IPv4 address in the low 32 bits.
    "http://[64:ff9b::7f00:1]/v1",  # 127.0.0.1
    "http://[64:ff9b::a00:1]/v1",  # 10.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/v1",  # 169.254.169.254
    # 6to4 (2002::/16): bits 16-48 are the IPv4 address.
    "http://[2002:7f00:1::]/v1",
    "http://[2002:a00:1::1]/v1",
    "http://[2002:a9fe:a9fe::]/v1",
    # IPv4-compatible (::a.b.c.d, deprecated).
    "http://[::127.0.0.1]/v1",
    "http://[::10.0.0.1]/v1",
    "http://[::169.254.169.254]/v1",
    # IPv4-mapped (::ffff:a.b.c.d).
    "http://[::ffff:127.0.0.1]/v1",
    "http://[::ffff:10.0.0.1]/v1",
    "http://[::ffff:169.254.169.254]/v1",
]


@pytest.mark.parametrize("url", EMBEDDED_REFUSED)
def test_ipv6_forms_embedding_refused_ipv4_addresses_are_refused(url):
    with pytest.raises(UnsafeURLError, match="resolves to"):
        check_provider_url(url)


def _resolving(monkeypatch, host, address):
    real = socket.getaddrinfo
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def fake_getaddrinfo(name, port, *args, **kwargs):
        if name == host:
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real(name, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


def test_host_name_resolving_to_nat64_loopback_is_refused(monkeypatch):
    _resolving(monkeypatch, "nat64.example", "64:ff9b::7f00:1")
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        check_provider_url("https://nat64.example/v1")


def test_nat64_and_6to4_of_a_public_address_are_accepted():
    # An IPv6-only host reaches IPv4-only providers through NAT64: that must keep working.
    check_provider_url("http://[64:ff9b::808:808]/v1")
    check_provider_url("http://[2002:808:808::1]/v1")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://meta.example/v1",
    ],
)
def test_metadata_addresses_are_refused_even_when_allow_listed(url, settings, monkeypatch):
    _resolving(monkeypatch, "meta.example", "169.254.169.254")
    settings.PROVIDER_HOST_ALLOWLIST = [
        "169.254.169.254",
        "[fd00:ec2::254]",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "meta.example",
    ]
    with pytest.raises(UnsafeURLError, match="metadata"):
        check_provider_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed.example#@127.0.0.1/v1",
        "http://allowed.example#@127.0.0.1:8000/v1",
        "http://allowed.example?@127.0.0.1/v1",
        "http://allowed.example\\@127.0.0.1/v1",
        "http://allowed.example\\.127.0.0.1/v1",
        "http://allowed.example /v1",
    ],
)
def test_urls_whose_host_parsers_may_disagree_are_refused(url, settings, monkeypatch):
    _resolving(monkeypatch, "allowed.example", "10.9.9.9")  # a team's own, allow-listed
    settings.PROVIDER_HOST_ALLOWLIST = ["allowed.example"]
    check_provider_url("http://allowed.example/v1")
    with pytest.raises(UnsafeURLError):
        check_provider_url(url)
