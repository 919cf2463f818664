"""API key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`.

The two header styles are those of the services Seedbed stands in for (Pioneer uses
X-API-Key; Dataframer and the OpenAI SDK send a bearer token).
"""

from typing import Any

from django.http import HttpRequest
from rest_framework import authentication, exceptions

from . import selectors, services
from .models import ApiKey


def raw_api_key(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key of an `X-API-Key` header, else of `Authorization: Bearer <key>`; None when
    neither carries one. Callers pass the two header values however they read them."""
    key = (x_api_key or "").strip()
    if key:
        return key
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def raw_key_from_headers(request: HttpRequest) -> str | None:
    return raw_api_key(request.headers.get("X-API-Key"), request.headers.get("Authorization"))


def api_key_resolve(request: HttpRequest) -> ApiKey | None:
    """The active key the request carries; None when it carries none.

    Raises AuthenticationFailed for a key that is unknown or revoked.
    """
    raw = raw_key_from_headers(request)
    if raw is None:
        return None
    key = selectors.api_key_authenticate(raw_key=raw)
    if key is None:
        raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
    services.api_key_touch(key=key)
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        key = api_key_resolve(request._request)
        if key is None:
            return None
        return key.user, key

    def authenticate_header(self, request: Any) -> str:
        # Makes DRF answer 401 (not 403) to requests without credentials.
        return 'Bearer realm="seedbed"'
