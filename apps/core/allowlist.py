"""Hosts whose private addresses providers may use (a team's own vLLM on the LAN).

The effective list is `PROVIDER_HOST_ALLOWLIST` (read at start, e.g. the embedded
server) plus the `AllowedPrivateHost` rows superusers edit in the admin. The rows are
cached in Redis, shared by web and worker processes, and the cache is dropped whenever a
row changes, so an edit applies at once without a restart. Entries are `host`,
`host:port`, `[ipv6]:port` or a bare IPv6 address; an entry without a port allows every
port of that host.
"""

from __future__ import annotations

import ipaddress
import re

from django.conf import settings
from django.core import checks
from django.core.cache import cache

CACHE_KEY = "core:allowed-private-hosts"
CACHE_SECONDS = 60

Entry = tuple[str, int | None]

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)


def normal_host(host: str) -> str:
    """The form URL hosts and entries are compared in (IPv6 compressed, names lowercased)."""
    host = host.strip().lower().strip("[]")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return host


def parse_entry(text: str) -> Entry:
    """(host, port or None) of an entry; ValueError with a readable message if malformed."""
    text = text.strip().lower()
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{text!r}: write an IPv6 address as [address] or [address]:port.")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port = None
    if port_text or text.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: the port must be a number from 1 to 65535.")
        port = int(port_text)
    host = normal_host(host)
    if ":" not in host and not _HOST_NAME.match(host):
        raise ValueError(f"{text!r} is not a host name, an IP address or host:port.")
    return host, port


def entry_text(host: str, port: int | None) -> str:
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _matches(entries: list[Entry], host: str, port: int) -> bool:
    host = normal_host(host)
    return any(host == allowed and port_ in (None, port) for allowed, port_ in entries)


def env_allows(host: str, port: int) -> bool:
    entries = [parse_entry(entry) for entry in settings.PROVIDER_HOST_ALLOWLIST if entry.strip()]
    return _matches(entries, host, port)


def db_entries() -> list[Entry]:
    texts: list[str] | None = cache.get(CACHE_KEY)
    if texts is None:
        from .models import AllowedPrivateHost

        texts = list(AllowedPrivateHost.objects.values_list("host", flat=True))
        cache.set(CACHE_KEY, texts, CACHE_SECONDS)
    return [parse_entry(text) for text in texts]


def allows(host: str, port: int) -> bool:
    """Whether `host:port` may resolve to private addresses (reads Redis, maybe the DB)."""
    return env_allows(host, port) or _matches(db_entries(), host, port)


def allowlist_changed() -> None:
    cache.delete(CACHE_KEY)


def check_env_entries(**kwargs: object) -> list[checks.CheckMessage]:
    """System check: a malformed PROVIDER_HOST_ALLOWLIST fails at start, not at a call."""
    errors: list[checks.CheckMessage] = []
    for entry in settings.PROVIDER_HOST_ALLOWLIST:
        try:
            parse_entry(entry)
        except ValueError as exc:
            errors.append(checks.Error(f"PROVIDER_HOST_ALLOWLIST: {exc}", id="core.E001"))
    return errors
