"""The generate rate limit shared by every generate-like endpoint (Pioneer's `/generate`,
label-existing): 120 requests a minute per user, counted atomically in Redis."""

import math

from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from .ratelimit import rate_limit_hit

GENERATE_PER_MINUTE = 120


def generate_throttle(request: Request) -> Response | None:
    """Count one generate request; None if allowed, else the 429 to answer (Retry-After)."""
    wait = rate_limit_hit(key=f"generate:user:{request.user.pk}", limit=GENERATE_PER_MINUTE)
    if not wait:
        return None
    seconds = math.ceil(wait)
    return Response(
        {
            "detail": f"Rate limit: {GENERATE_PER_MINUTE} generate requests per minute. "
            f"Retry in {seconds} s."
        },
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(seconds)},
    )
