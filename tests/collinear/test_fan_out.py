"""The fan-out end to end: real HTTP, a real Celery worker, the fake model on loopback."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from apps.collinear.rows import canonical
from apps.datasets.models import Sample
from apps.runs.models import Run, RunOrigin, RunStatus
from tests.runs.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES: list[dict[str, Any]] = [
    {
        "conv_prefix": [{"role": "user", "content": "My parcel is a week late."}],
        "response": {"role": "assistant", "content": "Sorry! Let me look it up for you."},
    },
    {
        "conv_prefix": [{"role": "user", "content": "How do I reset my password?"}],
        "response": {"role": "assistant", "content": "Use 'Forgot password' on the sign-in page."},
    },
    {"context": "A customer asks about a refund.", "response": "Refunds take 5 days."},
]


def assert_rows_match(rows: list[dict[str, Any]], multiplier: int) -> None:
    assert len(rows) == len(EXAMPLES) * multiplier
    for row in rows:
        assert set(row) == {"original", "generated"}
        assert row["original"] in EXAMPLES
        generated = json.loads(row["generated"])
        assert list(generated) == list(row["original"])  # its keys, in its order
        assert generated != row["original"]
    per_example = Counter(canonical(row["original"]) for row in rows)
    assert sorted(per_example.values()) == [multiplier] * len(EXAMPLES)


def run_of(answer: httpx.Response) -> Run:
    return Run.objects.get(pk=int(answer.headers["X-Seedbed-Run"]))


# pytest-django's live server is WSGI: it buffers the async stream whole (and says so).
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous")
def test_three_examples_times_four_give_twelve_rows(live_collinear, celery_processes):
    celery_processes.start_worker()
    answer = live_collinear.post(live_collinear.body(EXAMPLES, 4))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert_rows_match(answer.json(), 4)
    run = run_of(answer)
    assert (run.status, run.origin, run.accepted) == (RunStatus.SUCCEEDED, RunOrigin.COLLINEAR, 12)
    assert run.dataset.name == answer.headers["X-Seedbed-Dataset"] == "collinear"
    assert run.spec_version.seeds == EXAMPLES
    project = live_collinear.membership.project
    assert Sample.objects.filter(run=run, dataset__project=project).count() == 12


def test_rows_stream_before_the_run_ends(asgi_collinear, celery_processes, fake_openai):
    # The first answers come at once, the last ones seconds later.
    fake_openai.enqueue({"latency": 0}, {"latency": 0}).script(latency=3)
    celery_processes.start_worker()
    body = asgi_collinear.body(EXAMPLES, 2, prompt="More like these.")
    chunks: list[bytes] = []
    first_row_at = None
    with httpx.stream(
        "POST",
        f"{asgi_collinear.base_url}/api/v1/synth_data/generate",
        json=body,
        headers=asgi_collinear.headers(),
        timeout=120,
    ) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            chunks.append(chunk)
            if first_row_at is None and b'"generated"' in chunk:
                first_row_at = time.time()
        run = run_of(answer)
    assert chunks[0].startswith(b"[")
    assert first_row_at is not None and run.finished_at is not None
    assert first_row_at < run.finished_at.timestamp() - 1  # rows came while it ran
    assert_rows_match(json.loads(b"".join(chunks)), 2)


def test_a_dropped_connection_leaves_the_dataset_version_complete(
    asgi_collinear, celery_processes, fake_openai
):
    fake_openai.script(latency=0.3)
    celery_processes.start_worker()
    with httpx.stream(
        "POST",
        f"{asgi_collinear.base_url}/api/v1/synth_data/generate",
        json=asgi_collinear.body(EXAMPLES, 10),
        headers=asgi_collinear.headers(),
        timeout=120,
    ) as answer:
        assert answer.status_code == 200
        first = next(answer.iter_bytes())
        run = run_of(answer)
    assert first.startswith(b"[")  # the client leaves after the first bytes
    wait_for(
        lambda: Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED,
        90,
        "the run to finish without its client",
        celery_processes,
    )
    run.refresh_from_db()
    samples = Sample.objects.filter(run=run, dataset=run.dataset, version=run.dataset_version)
    assert run.accepted == samples.count() == 30
    originals = Counter(canonical(s.lineage["original"]) for s in samples)
    assert sorted(originals.values()) == [10, 10, 10]
