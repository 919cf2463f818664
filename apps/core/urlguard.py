"""Refuse provider URLs that point into private networks (SSRF guard).

A provider's base URL is fetched by Seedbed's own servers with the provider's API key, so
a URL that resolves to loopback, a private range or any other non-global address is
refused unless its host is allow-listed (`PROVIDER_HOST_ALLOWLIST` plus the entries
superusers add in the admin, see allowlist.py). Link-local and cloud metadata addresses
are refused even when allow-listed: nothing legitimate serves an LLM there, and they
hand out the machine's cloud credentials.

IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) are
judged by the IPv4 address they lead to. This module checks a URL once; the outbound
transport re-checks every address it is about to connect to (llm/guard.py), so a DNS
answer that changes after this check (rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import httpx
import yarl

from . import allowlist

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",  # link-local: AWS/GCP/Azure/OpenStack metadata, ECS credentials
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::/64",  # AWS instance metadata over IPv6 (fd00:ec2::254)
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "168.63.129.16/32",  # Azure WireServer, a public address
        "192.0.0.192/32",  # Oracle Cloud metadata (legacy)
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
# Characters some URL parsers treat as delimiters and others as part of the host.
_AMBIGUOUS = frozenset("\\#?\t\r\n ")


class UnsafeURLError(ValueError):
    """The URL may not be used for a provider; the message says why."""


class Reach(enum.Enum):
    GLOBAL = "global"
    PRIVATE = "private"  # allowed for allow-listed hosts
    METADATA = "metadata"  # never allowed


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, for the forms that carry one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64 or address in _IPV4_TRANSLATED:
        return low
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return low
    return None


def classify(address: IPAddress) -> Reach:
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reach = classify(inner)
            # ::a.b.c.d is deprecated and leads nowhere by itself.
            if reach is Reach.GLOBAL and address in _IPV4_COMPATIBLE:
                return Reach.PRIVATE
            return reach
    if any(address in network for network in METADATA_NETWORKS):
        return Reach.METADATA
    if not address.is_global or address.is_multicast or address.is_reserved:
        return Reach.PRIVATE
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return Reach.PRIVATE
    return Reach.GLOBAL


def _shown(address: IPAddress) -> str:
    inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return f"{address} (IPv4 {inner})" if inner is not None else str(address)


def check_addresses(
    host: str, port: int, addresses: Iterable[IPAddress], allowlisted: Callable[[], bool]
) -> None:
    """Raise UnsafeURLError unless every address may be connected to for `host:port`.

    `allowlisted` is called only when a private address needs it (it may read the DB).
    """
    private: IPAddress | None = None
    for address in addresses:
        reach = classify(address)
        if reach is Reach.METADATA:
            raise UnsafeURLError(
                f"Host {host!r} resolves to {_shown(address)}, a link-local or cloud "
                "metadata address, which Seedbed never calls, allow-listed or not."
            )
        if reach is Reach.PRIVATE and private is None:
            private = address
    if private is not None and not allowlisted():
        raise UnsafeURLError(
            f"Host {host!r} resolves to {_shown(private)}, a private, loopback, link-local "
            "or reserved address. Ask a superuser to add it to the allowed private hosts "
            "(admin) or to PROVIDER_HOST_ALLOWLIST if this endpoint is your own."
        )


def parse_ip(text: str) -> IPAddress:
    """An address as getaddrinfo or a resolver gives it (IPv6 may carry a %scope)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def url_endpoint(url: str) -> tuple[str, int]:
    """The (host, port) a base URL connects to; raises UnsafeURLError for URLs that are
    unsafe or that the HTTP clients (httpx, aiohttp's yarl) could read differently."""
    if any(char in _AMBIGUOUS or ord(char) < 0x20 for char in url):
        raise UnsafeURLError(
            "Base URL may not contain spaces, backslashes, a query (?…) or a fragment (#…)."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("Base URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURLError("Base URL has no host.")
    if "@" in parts.netloc:
        raise UnsafeURLError("Put credentials in the API key field, not in the URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        others: list[yarl.URL | httpx.URL] = [yarl.URL(url), httpx.URL(url)]
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeURLError("Base URL has an invalid host or port.") from exc
    host = parts.hostname
    for other in others:
        if _host_key(other.host or "") != _host_key(host) or (other.port or port) != port:
            raise UnsafeURLError("Base URL is ambiguous: HTTP clients read its host differently.")
    return host, port


def _host_key(host: str) -> str:
    # yarl writes IPv6 literals compressed (::ffff:7f00:1), the others as given.
    return allowlist.normal_host(host.replace("%25", "%"))


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [parse_ip(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"Host {host!r} could not be resolved ({exc.strerror}).") from exc
    return [parse_ip(str(info[4][0])) for info in infos]


def check_provider_url(url: str) -> None:
    """Raise UnsafeURLError unless `url` may be called with a provider's credentials."""
    host, port = url_endpoint(url)
    check_addresses(host, port, resolve(host, port), lambda: allowlist.allows(host, port))
