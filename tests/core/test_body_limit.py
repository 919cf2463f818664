"""Django's paths (pages and the REST API) read a body only up to REQUEST_BODY_MAX_BYTES,
and past 64 kB only for a caller with a session or a valid API key: measured by what the
app took from a body produced on demand, through the ASGI application `make run` serves."""

from __future__ import annotations

from apps.core.bodylimit import ANONYMOUS_BODY_BYTES
from config.asgi import application
from tests.asgi import MB, CountingBody, call
from tests.factories import MembershipFactory, api_key_for

HUGE = 400 * MB


def test_an_anonymous_chunked_body_is_cut_off_at_64_kb():
    body = CountingBody(HUGE, chunk=16 * 1024)
    answer = call(application, "/api/v1/runs/", body)
    assert answer.status == 401
    assert "Sign in or send an API key" in answer.json()["detail"]
    assert body.read <= ANONYMOUS_BODY_BYTES + body.chunk


def test_a_declared_body_is_refused_before_a_byte_is_read():
    too_big = CountingBody(HUGE)
    answer = call(application, "/api/v1/runs/", too_big, declare_length=True)
    assert answer.status == 413 and "REQUEST_BODY_MAX_BYTES" in answer.json()["detail"]
    anonymous = CountingBody(10 * MB)
    answer = call(application, "/datasets/1/import/", anonymous, declare_length=True)
    assert answer.status == 401
    assert too_big.calls == anonymous.calls == 0


def test_a_bad_key_does_not_vouch_for_a_big_body(transactional_db):
    body = CountingBody(10 * MB)
    answer = call(
        application, "/api/v1/runs/", body, headers={"x-api-key": "sb_nope"}, declare_length=True
    )
    assert answer.status == 401 and body.read == 0


def test_with_a_key_a_body_is_read_up_to_the_cap_only(transactional_db, settings):
    settings.REQUEST_BODY_MAX_BYTES = 2 * MB
    key = api_key_for(MembershipFactory())
    body = CountingBody(HUGE, chunk=64 * 1024)
    answer = call(application, "/api/v1/runs/", body, headers={"x-api-key": key})
    assert answer.status == 413
    assert 2 * MB - body.chunk < body.read <= 2 * MB + body.chunk  # read, but only so far


def test_a_signed_in_session_may_send_a_big_body(transactional_db, client, settings):
    settings.REQUEST_BODY_MAX_BYTES = 2 * MB
    membership = MembershipFactory()
    client.force_login(membership.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    body = CountingBody(MB)
    answer = call(application, "/api/v1/runs/", body, headers={"cookie": cookie})
    # The whole body reached Django, whose CSRF check answers (no token was sent).
    assert body.read == MB and answer.status == 403


def test_small_anonymous_bodies_reach_django(transactional_db):
    body = CountingBody(300)
    answer = call(
        application, "/accounts/login/", body,
        headers={"content-type": "application/x-www-form-urlencoded"}, declare_length=True,
    )  # fmt: skip
    assert body.read == 300 and answer.status == 403  # Django's CSRF refusal, not ours
