"""Typed errors raised by the LLM client.

Every error carries a `user_message` that can be shown in the UI as is: it names what went
wrong in plain words and never contains the provider's API key (messages taken from an
upstream body are scrubbed of the key before they are stored here).
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class: `str(exc)` is the user message."""

    default_retryable = False

    def __init__(
        self,
        user_message: str,
        *,
        status_code: int | None = None,
        retryable: bool | None = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.status_code = status_code
        self.retryable = self.default_retryable if retryable is None else retryable
        self.attempts = attempts
        # Seconds the upstream asked us to wait (Retry-After), when it said so.
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.user_message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.user_message!r}, status_code={self.status_code}, "
            f"attempts={self.attempts})"
        )


class ProviderUnreachable(LLMError):
    """The connection could not be made or broke before a response arrived."""

    default_retryable = True


class ProviderTimeout(LLMError):
    """The provider accepted the connection but did not answer within the read timeout."""

    default_retryable = True


class ProviderRateLimited(LLMError):
    """The provider answered 429; `retry_after` says how long it asked us to wait."""

    default_retryable = True


class ProviderHTTPError(LLMError):
    """Any other non-2xx answer; retryable for 408, 409 and 5xx."""


class ProviderAuthError(ProviderHTTPError):
    """401/403: the API key is missing, wrong or lacks permission. Never retried."""


class ProviderBadResponse(LLMError):
    """A 2xx answer whose body is not the JSON (or SSE) the protocol promises."""

    default_retryable = True


class ProviderRefused(LLMError):
    """Seedbed refused to call this base URL (SSRF guard); no request was sent."""


class CapabilityError(LLMError, ValueError):
    """The call asks for something the provider cannot do (tools, thinking); no request
    was sent. A ValueError too, so run creation can answer it with a 400."""


class ThinkingUnsupported(CapabilityError):
    """A thinking budget was asked of a provider whose `thinking` is "none"."""


class ToolsUnsupported(CapabilityError):
    """Tools were offered to a provider whose models cannot call them (`tools=False`)."""
