"""A request whose text PostgreSQL cannot store never stops the history of later calls
(the real server, its batched writer and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest

from apps.inference.models import Inference
from tests.inference.server import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def body(content: str = "hi", extra: str = "") -> bytes:
    """A chat request as raw JSON (json.dumps cannot write NaN or lone surrogates)."""
    messages = f'[{{"role":"user","content":"{content}"}}]'
    return f'{{"model":"fake/fake-gpt","max_tokens":8,{extra}"messages":{messages}}}'.encode()


NORMAL = body()
POISONED = {
    "NUL": body(content="a\\u0000b"),
    "NaN": body(extra='"temperature":NaN,'),
    "lone surrogate": body(content="a\\ud800b"),
}


@pytest.mark.parametrize("poison", list(POISONED))
def test_one_poisoned_request_among_100_loses_no_other_row(gw, poison):
    headers = {**gw.headers(), "Content-Type": "application/json"}
    url = f"{gw.url}/v1/chat/completions"
    with httpx.Client(timeout=30) as client:
        statuses = [
            client.post(url, content=NORMAL, headers=headers).status_code for _ in range(50)
        ]
        poisoned = client.post(url, content=POISONED[poison], headers=headers)
        statuses += [
            client.post(url, content=NORMAL, headers=headers).status_code for _ in range(50)
        ]
    assert statuses == [200] * 100
    assert poisoned.status_code < 500, poisoned.text
    # Rows are written behind the answers: wait for the 100 answered calls themselves (the
    # poisoned one, refused with a 400 or stored safely, may land before the last of them).
    ok = Inference.objects.filter(project=gw.project, status="ok")
    wait_until(lambda: ok.count() >= 100, 10.0, "100 answered calls in the history")
    rows = gw.rows(100)
    assert len(rows) in (100, 101)
    assert sum(r.status == "ok" for r in rows) == 100
    # The writer is not stuck behind it: a later call is recorded too.
    with httpx.Client(timeout=30) as client:
        assert client.post(url, content=NORMAL, headers=headers).status_code == 200
    later = gw.rows(len(rows) + 1)
    assert len(later) == len(rows) + 1
    assert Inference.objects.filter(project=gw.project).count() == len(rows) + 1
