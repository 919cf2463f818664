"""The withpi job endpoints through real HTTP (uvicorn), without a worker: jobs stay
queued. Streams and finished jobs are in test_jobs.py, bad input in test_bad_input.py."""

import time

import pytest

from apps.core.models import Role
from apps.datasets.models import Dataset
from apps.runs.models import Run, RunOrigin, RunStatus
from apps.specs.models import TaskType
from tests.factories import MembershipFactory, api_key_for
from tests.inference.server import wait_until

from .conftest import GENERATE, PAIRS, inputs_body, pairs_body, read_in_background

pytestmark = pytest.mark.usefixtures("allow_loopback")


def test_start_job_answers_a_queued_status_and_makes_an_ordinary_run(pi):
    started = pi.start(inputs_body(batch_size=4, num_shots=2, exploration_mode="CREATIVE"))
    assert set(started) == {"job_id", "state", "detailed_status", "data"}
    assert isinstance(started["job_id"], str)
    assert started["state"] == "QUEUED"
    assert started["data"] is None
    assert any("0 of 10" in line for line in started["detailed_status"])
    run = Run.objects.get(pk=int(started["job_id"]))
    assert run.project_id == pi.membership.project_id
    assert run.origin == RunOrigin.WITHPI
    assert run.num_samples == 10
    assert run.dataset.task_type == TaskType.INPUTS
    assert run.spec_version.seeds == [
        {"input": "Vacuum Cleaner"},
        {"input": "Desk Lamp"},
        {"input": "Drink Coaster"},
    ]
    assert run.spec_version.description.startswith("Make a marketing post")
    options = run.options
    assert (options.batch_size, options.num_shots) == (4, 2)
    assert options.exploration_mode == "CREATIVE"
    assert options.concurrency == 8  # run_parallel_batches defaults to true
    # The same application again: the same spec and dataset, a new dataset version.
    again = Run.objects.get(pk=int(pi.start(inputs_body(run_parallel_batches=False))["job_id"]))
    assert again.spec_version_id == run.spec_version_id
    assert (again.dataset_id, again.dataset_version) == (run.dataset_id, run.dataset_version + 1)
    assert again.options.concurrency == 1
    assert Dataset.objects.get(pk=run.dataset_id).name.startswith("withpi-inputs-make-a-marketing")


def test_retrieve_list_by_state_and_cancel_a_queued_job(pi):
    job_id = pi.start(inputs_body())["job_id"]
    other_job = pi.start(inputs_body(num_inputs_to_generate=3))["job_id"]
    job = pi.retrieve(job_id)
    assert (job["job_id"], job["state"], job["data"]) == (job_id, "QUEUED", [])
    with pi.client() as client:
        listed = client.get(GENERATE).json()
        assert [j["job_id"] for j in listed] == [other_job, job_id]  # newest first
        assert client.get(GENERATE, params={"state": "QUEUED"}).json() == listed
        assert client.get(GENERATE, params={"state": "DONE"}).json() == []

        cancelled = client.delete(f"{GENERATE}/{job_id}")
        assert cancelled.status_code == 200
        assert cancelled.headers["content-type"].startswith("text/plain")
        assert "cancelled" in cancelled.text
        assert pi.retrieve(job_id)["state"] == "CANCELLED"
        assert Run.objects.get(pk=int(job_id)).status == RunStatus.CANCELLED
        ended = [j["job_id"] for j in client.get(GENERATE, params={"state": "CANCELLED"}).json()]
        assert ended == [job_id]
        again = client.delete(f"{GENERATE}/{job_id}")
        assert again.status_code == 200 and "already ended (CANCELLED)" in again.text
        # A job that has ended: both streams answer at once and end.
        assert client.get(f"{GENERATE}/{job_id}/data").text == ""
        messages = client.get(f"{GENERATE}/{job_id}/messages").text.splitlines()
        assert any("Cancel" in line for line in messages)
        assert messages[-1].startswith("CANCELLED")


def test_input_response_pairs_map_onto_the_decoder_task_type(pi):
    started = pi.start(pairs_body(), path=PAIRS)
    assert started["state"] == "QUEUED" and started["data"] is None
    run = Run.objects.get(pk=int(started["job_id"]))
    assert run.dataset.task_type == TaskType.DECODER
    assert run.origin == RunOrigin.WITHPI
    assert run.num_samples == 4
    version = run.spec_version
    assert version.seeds[0] == {
        "instruction": "How long do I boil an egg?",
        "response": "Nine minutes.",
    }
    assert "Answer in two sentences at most." in version.instruction
    assert pi.retrieve(started["job_id"], path=PAIRS)["data"] == []
    with pi.client() as client:
        # Each job type sees only its own jobs.
        assert client.get(f"{GENERATE}/{started['job_id']}").status_code == 404
        assert [j["job_id"] for j in client.get(PAIRS).json()] == [started["job_id"]]
        assert client.get(GENERATE).json() == []
        assert client.delete(f"{PAIRS}/{started['job_id']}").status_code == 200
    # Without a description: the spec still has one.
    bare = pairs_body()
    del bare["application_description"], bare["system_prompt"]
    assert pi.start(bare, path=PAIRS)["state"] == "QUEUED"


def test_jobs_of_another_project_do_not_exist(pi, other_key):
    job_id = pi.start(inputs_body())["job_id"]
    with pi.client(key=other_key) as client:
        for method, suffix in [
            ("GET", ""),
            ("DELETE", ""),
            ("GET", "/data"),
            ("GET", "/messages"),
        ]:
            response = client.request(method, f"{GENERATE}/{job_id}{suffix}")
            assert response.status_code == 404, (method, suffix)
            assert "detail" in response.json()
        assert client.get(GENERATE).json() == []
    assert pi.retrieve(job_id)["state"] == "QUEUED"  # untouched


@pytest.mark.parametrize("key", ["", "sk-not-a-key"])
def test_no_key_or_an_unknown_key_is_401(pi, key):
    job_id = pi.start(inputs_body())["job_id"]
    with pi.client(key=key) as client:
        assert client.post(GENERATE, json=inputs_body()).status_code == 401
        assert client.get(GENERATE).status_code == 401
        for suffix in ("", "/data", "/messages"):
            assert client.get(f"{GENERATE}/{job_id}{suffix}").status_code == 401


def test_a_viewer_may_read_but_not_start_or_cancel(pi):
    job_id = pi.start(inputs_body())["job_id"]
    viewer = MembershipFactory(project=pi.membership.project, role=Role.VIEWER)
    with pi.client(key=api_key_for(viewer)) as client:
        assert client.get(f"{GENERATE}/{job_id}").status_code == 200
        assert client.post(GENERATE, json=inputs_body()).status_code == 403
        assert client.delete(f"{GENERATE}/{job_id}").status_code == 403


def test_generate_requests_are_rate_limited(pi):
    from apps.core.throttle import GENERATE_PER_MINUTE

    with pi.client() as client:
        # Counted before the body is read: invalid bodies (422) count too.
        codes = [client.post(GENERATE, json={}).status_code for _ in range(GENERATE_PER_MINUTE)]
        assert set(codes) == {422}
        limited = client.post(GENERATE, json=inputs_body())
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_open_streams_hold_no_server_thread(pi):
    """Many more streams than the server has threads stay open while it keeps answering;
    they all end when the job does."""
    job_id = pi.start(inputs_body())["job_id"]
    streams = [read_in_background(pi, job_id, "messages") for _ in range(40)]
    wait_until(lambda: all(lines for lines, _ in streams), 20, "every stream's first line")
    for _ in range(3):
        started = time.monotonic()
        assert pi.retrieve(job_id)["state"] == "QUEUED"
        assert time.monotonic() - started < 2
    with pi.client() as client:
        assert client.delete(f"{GENERATE}/{job_id}").status_code == 200
    for lines, thread in streams:
        thread.join(timeout=20)
        assert not thread.is_alive()
        assert lines[-1] == "CANCELLED: 0 inputs generated."
