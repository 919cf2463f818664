"""Refuse provider URLs that point into private networks (SSRF guard).

A provider's base URL is fetched by Seedbed's own servers with the provider's API key, so
a URL that resolves to loopback, a private range, link-local (cloud metadata at
169.254.169.254) or any other non-global address is refused unless its host is listed in
`PROVIDER_HOST_ALLOWLIST` (entries are `host` or `host:port`).
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeURLError(ValueError):
    """The URL may not be used for a provider; the message says why."""


def _allowlisted(host: str, port: int) -> bool:
    allow = {entry.strip().lower() for entry in settings.PROVIDER_HOST_ALLOWLIST if entry}
    bare = host.lower().strip("[]")
    return bool({bare, f"{bare}:{port}", f"[{bare}]:{port}"} & allow)


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"Host {host!r} could not be resolved ({exc.strerror}).") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def check_provider_url(url: str) -> None:
    """Raise UnsafeURLError unless `url` may be called with a provider's credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("Base URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURLError("Base URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURLError("Put credentials in the API key field, not in the URL.")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURLError("Base URL has an invalid port.") from exc
    if _allowlisted(host, port):
        return
    for address in _resolve(host, port):
        if not address.is_global or address.is_multicast:
            raise UnsafeURLError(
                f"Host {host!r} resolves to {address}, a private, loopback, link-local or "
                "reserved address. Ask an administrator to add it to PROVIDER_HOST_ALLOWLIST "
                "if this endpoint is your own."
            )
