"""`POST /api/v1/synth_data/generate`, Collinear's synchronous fan-out, as an async view:
the run is created on a short thread hop, then its rows are streamed with no thread held
(see streams.py)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from apps.inference.gateway.auth import KeyInfo, authenticate
from apps.inference.gateway.errors import GatewayError
from apps.inference.registry import fresh_db
from apps.runs.models import Run

from .errors import CollinearError
from .inputs import FanOutRequest, parse_fan_out
from .services import fan_out_start, membership_for_key
from .streams import fan_out_response


@fresh_db
def _start(request: HttpRequest, key: KeyInfo) -> tuple[Run, FanOutRequest]:
    fan_out = parse_fan_out(request.body)
    membership = membership_for_key(user_id=key.user_id, project_id=key.project_id)
    return fan_out_start(membership=membership, request=fan_out), fan_out


@csrf_exempt
async def synth_data_generate(request: HttpRequest) -> HttpResponseBase:
    try:
        if request.method != "POST":
            raise CollinearError(405, message="Method Not Allowed")
        try:
            key = await authenticate(request)  # Authorization: Bearer <Seedbed API key>
        except GatewayError as exc:
            raise CollinearError(401, message=exc.message) from None
        run, fan_out = await sync_to_async(_start, thread_sensitive=False)(request, key)
    except CollinearError as exc:
        return exc.response()
    return fan_out_response(run, fan_out.examples)
