"""Jobs on a real Celery worker, read through real HTTP while they run: the `/data` and
`/messages` streams deliver lines before the job ends, cancel keeps what was made, and
input-response pairs come back as `{llm_input, llm_output}`."""

import json
import time

import pytest

from apps.datasets.models import Sample
from apps.runs.models import Run
from tests.runs.workers import wait_for

from .conftest import PAIRS, data_of, inputs_body, pairs_body, read_in_background

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("allow_loopback")]


def test_data_and_messages_stream_while_the_job_runs(pi, celery_processes, fake_openai):
    fake_openai.script(latency=0.4)
    celery_processes.start_worker()
    body = inputs_body(num_inputs_to_generate=12, batch_size=2, run_parallel_batches=False)
    job_id = pi.start(body)["job_id"]
    messages, messages_reader = read_in_background(pi, job_id, "messages")

    streamed: list[str] = []
    seen_while_running = None
    for line in pi.stream_lines(job_id, "data"):
        streamed.append(line)
        if seen_while_running is None:
            # The first line is here: the job has not ended, and GET shows it too.
            job = pi.retrieve(job_id)
            seen_while_running = (job["state"], len(job["data"]))
    assert seen_while_running is not None
    state, count = seen_while_running
    assert state == "RUNNING" and 1 <= count < 12, seen_while_running

    messages_reader.join(timeout=30)
    job = pi.retrieve(job_id)
    assert job["state"] == "DONE", job
    items = data_of(streamed)
    assert len(items) == 12 and all(isinstance(item, str) and item for item in items)
    assert items == job["data"]  # the stable order: the order they were accepted in
    assert len(set(items)) == 12
    stored = Sample.objects.filter(run_id=int(job_id)).order_by("index")
    assert [s.payload["input"] for s in stored] == items
    assert messages[0].endswith(
        f"Queued: 12 samples into {Run.objects.get(pk=job_id).dataset.name} v1."
    )
    assert messages[-1] == "DONE: 12 inputs generated."
    # After the end, a client asking for JSON gets the same items as one array.
    with pi.client() as client:
        as_json = client.get(
            f"/data/generate/{job_id}/data", headers={"Accept": "application/json"}
        )
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == items


def test_cancel_stops_the_job_and_keeps_its_inputs(pi, celery_processes, fake_openai):
    fake_openai.script(latency=0.5)
    celery_processes.start_worker()
    body = inputs_body(num_inputs_to_generate=60, batch_size=2, run_parallel_batches=False)
    job_id = pi.start(body)["job_id"]
    data, data_reader = read_in_background(pi, job_id, "data")
    messages, messages_reader = read_in_background(pi, job_id, "messages")
    wait_for(lambda: len(data) >= 2, 60, "the first inputs", celery_processes)
    with pi.client() as client:
        assert client.delete(f"/data/generate/{job_id}").status_code == 200
    data_reader.join(timeout=30)
    messages_reader.join(timeout=30)
    assert not data_reader.is_alive() and not messages_reader.is_alive()  # both streams ended
    job = pi.retrieve(job_id)
    assert job["state"] == "CANCELLED"
    assert 2 <= len(job["data"]) < 60
    assert data_of(data) == job["data"]
    assert any("Cancel requested." in line for line in messages)
    assert messages[-1] == f"CANCELLED: {len(job['data'])} inputs generated."
    time.sleep(1.5)  # no new calls after the cancel: nothing more arrives
    assert pi.retrieve(job_id)["data"] == job["data"]


def test_input_response_pairs_end_to_end(pi, celery_processes, fake_openai):
    celery_processes.start_worker()
    job_id = pi.start(pairs_body(), path=PAIRS)["job_id"]
    messages = list(pi.stream_lines(job_id, "messages", path=PAIRS))
    assert messages[-1] == "DONE: 4 pairs generated."
    job = pi.retrieve(job_id, path=PAIRS)
    assert job["state"] == "DONE"
    assert len(job["data"]) == 4
    for pair in job["data"]:
        assert set(pair) == {"llm_input", "llm_output"}
        assert pair["llm_input"].startswith("instruction number")
        assert pair["llm_output"].startswith("response number")
    assert data_of(list(pi.stream_lines(job_id, "data", path=PAIRS))) == job["data"]
    with pi.client() as client:
        # What the SDK's typed `stream_data` of pairs reads: one JSON list.
        response = client.get(f"{PAIRS}/{job_id}/data", headers={"Accept": "application/json"})
    assert json.loads(response.text) == job["data"]
