"""Runs on real Celery worker and beat processes: crash, cancel, Redis restart, failures."""

import subprocess
import time

import pytest
from django.conf import settings

from apps.datasets.models import Sample
from apps.runs import services
from apps.runs.models import Run, RunStatus
from tests.factories import MembershipFactory, ProviderFactory
from tests.runs import responders
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory
from tests.runs.pipeline_model import PipelineModel
from tests.runs.workers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("allow_loopback")]


@pytest.fixture
def start_run(celery_processes, fake_openai):
    membership = MembershipFactory()
    provider = ProviderFactory(
        project=membership.project, base_url=fake_openai.base_url, max_concurrency=8
    )
    version = SpecVersionFactory(spec__project=membership.project)
    fake_openai.responder = responders.classification(CLASS_LABELS)

    def start(wait_for_samples: bool = False, **params) -> Run:
        run = services.run_create(
            membership=membership,
            spec_version=version,
            provider=provider,
            **{"batch_size": 5, "concurrency": 4, **params},
        )
        if wait_for_samples:
            wait_for(
                lambda: Sample.objects.filter(run=run).exists(),
                60,
                "first samples",
                celery_processes,
            )
        return run

    start.membership = membership
    return start


def status(run: Run) -> str:
    run.refresh_from_db()
    return run.status


def assert_exact_samples(run: Run) -> None:
    indices = [i for i in Sample.objects.filter(run=run).values_list("index", flat=True)]
    assert len(indices) == run.num_samples
    assert sorted(i for i in indices if i is not None) == list(range(run.num_samples))


def test_kill_9_worker_mid_run_resumes_and_finishes_exactly(
    start_run, celery_processes, fake_openai
):
    fake_openai.script(latency=0.2)
    celery_processes.start_beat()
    celery_processes.start_worker("first")
    run = start_run(num_samples=300, wait_for_samples=True)
    assert status(run) == RunStatus.RUNNING
    celery_processes.kill("first")  # SIGKILL to the whole worker process group
    killed_at = Sample.objects.filter(run=run).count()
    assert killed_at < 300
    celery_processes.start_worker("second")
    wait_for(
        lambda: status(run) in (RunStatus.SUCCEEDED, RunStatus.FAILED),
        120,
        "the run to finish",
        celery_processes,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert_exact_samples(run)
    assert run.events.filter(message__contains="resuming").exists()


def test_cancel_mid_run_stops_calls_and_keeps_samples(start_run, celery_processes, fake_openai):
    fake_openai.script(latency=0.5)
    celery_processes.start_worker()
    run = start_run(num_samples=2000, wait_for_samples=True)
    cancelled_at = time.time()
    services.run_cancel(membership=start_run.membership, run=run)
    wait_for(lambda: status(run) == RunStatus.CANCELLED, 30, "CANCELLED", celery_processes)
    # The supervisor reads the cancel flag every 0.25 s (engine.TICK); calls already let
    # through may still reach the provider a little later on a busy machine.
    started_after = [r for r in fake_openai.requests if r["wall"] > cancelled_at + 1.0]
    assert started_after == []
    ended_with = len(fake_openai.requests)
    time.sleep(1.5)
    assert len(fake_openai.requests) == ended_with
    kept = Sample.objects.filter(run=run).count()
    assert 0 < kept < 2000
    assert run.accepted == kept


def test_cancel_does_not_wait_for_calls_in_flight(start_run, celery_processes, fake_openai):
    fake_openai.script(latency=0.2)
    celery_processes.start_worker()
    run = start_run(num_samples=2000, wait_for_samples=True)
    # From now on the provider holds every call without answering, as a slow model would
    # for up to the provider's 60 s timeout.
    fake_openai.script(stall=True)
    seen = len(fake_openai.requests)
    wait_for(lambda: len(fake_openai.requests) >= seen + 4, 30, "4 calls hanging", celery_processes)
    services.run_cancel(membership=start_run.membership, run=run)
    wait_for(lambda: status(run) == RunStatus.CANCELLED, 20, "CANCELLED", celery_processes)
    kept = Sample.objects.filter(run=run).count()
    assert 0 < kept == run.accepted
    assert run.events.filter(message="Cancelled: Cancelled by a user.").exists()


def redis_restart(down_seconds: float) -> None:
    """Stop the test Redis the way an outage does (no save), start it again later."""
    port = settings.REDIS_URL.rsplit(":", 1)[1].split("/", 1)[0]
    directory = subprocess.run(
        ["redis-cli", "-p", port, "config", "get", "dir"], capture_output=True, text=True
    ).stdout.split()[1]
    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], check=False)
    time.sleep(down_seconds)
    subprocess.run(
        [
            *("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", directory),
            *("--daemonize", "yes", "--save", "", "--appendonly", "no"),
        ],
        check=True,
    )


@pytest.mark.parametrize("down_seconds", [5, 30])
def test_redis_outage_mid_run_keeps_the_worker_and_loses_nothing(
    start_run, celery_processes, fake_openai, down_seconds
):
    """The worker of `make run` (the Procfile's command) outlives a broker outage:
    same pid afterwards, and the run that spanned it ends with exactly its samples."""
    fake_openai.script(latency=0.3)
    celery_processes.start_beat()
    celery_processes.start_worker(as_make_run=True)
    worker_pid = celery_processes.procs["worker"].pid
    run = start_run(num_samples=2000, wait_for_samples=True)
    redis_restart(down_seconds)
    wait_for(
        lambda: status(run) in (RunStatus.SUCCEEDED, RunStatus.FAILED),
        240,
        "the run to finish",
        celery_processes,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert_exact_samples(run)
    worker = celery_processes.procs["worker"]
    assert worker.poll() is None, celery_processes.logs()
    assert worker.pid == worker_pid
    assert "Unrecoverable error" not in (celery_processes.log_dir / "worker.log").read_text()


@pytest.mark.parametrize("failure", ["500", "malformed"])
def test_failing_provider_ends_failed_never_running(
    start_run, celery_processes, fake_openai, failure
):
    if failure == "500":
        fake_openai.script(error_rate=1.0, fail_status=500)
    else:
        fake_openai.script(malformed=True)
    celery_processes.start_worker()
    run = start_run(num_samples=20)
    wait_for(
        lambda: status(run) in (RunStatus.FAILED, RunStatus.SUCCEEDED),
        120,
        "the run to end",
        celery_processes,
    )
    assert run.status == RunStatus.FAILED
    assert run.error
    if failure == "500":
        assert "500" in run.error
    assert run.events.filter(level="error").exists()


def test_a_run_told_to_wait_30_s_frees_the_worker_and_sends_nothing_before(
    start_run, celery_processes, fake_openai
):
    fake_openai.script(latency=0.05)
    fake_openai.enqueue({"status": 429, "retry_after": 30})
    celery_processes.start_worker()  # a pool of one: a waiting run must not hold it
    waiting = start_run(num_samples=40)
    wait_for(
        lambda: waiting.events.filter(message__contains="Retry-After").exists(),
        60,  # the worker's start included, on a busy machine
        "the run to wait",
        celery_processes,
    )
    told = next(r for r in fake_openai.requests if r["status"] == 429)
    # Meanwhile the worker serves another run (another model, to tell calls apart).
    other = start_run(num_samples=20, model="fake-gpt-mini")
    wait_for(lambda: status(other) == RunStatus.SUCCEEDED, 25, "the other run", celery_processes)
    assert status(waiting) == RunStatus.RUNNING
    wait_for(lambda: status(waiting) == RunStatus.SUCCEEDED, 90, "the run", celery_processes)
    assert_exact_samples(waiting)
    assert waiting.failed_calls == 0
    # The calls sent together with the one told to wait were already out; after them,
    # none of this run's calls came before the time named.
    own_after = [
        r["wall"] - told["wall"]
        for r in fake_openai.requests
        if r["json"].get("model") == waiting.model and r["wall"] - told["wall"] > 0.2
    ]
    assert own_after and min(own_after) >= 30.0


def test_kill_9_mid_revision_resumes_without_duplicates_or_lost_lineage(
    start_run, celery_processes, fake_openai
):
    model = PipelineModel(CLASS_LABELS, judge_fail_rate=0.5, seed=5)
    fake_openai.responder = model
    fake_openai.script(latency=0.2)
    celery_processes.start_beat()
    celery_processes.start_worker("first")
    run = start_run(
        num_samples=120,
        revision_types=["conformance"],
        filtering_types=["conformance"],
        max_revision_cycles=2,
    )
    wait_for(lambda: model.calls["revision"] >= 3, 60, "revisions under way", celery_processes)
    celery_processes.kill("first")  # in the middle of judging and revising
    killed_at = Sample.objects.filter(run=run).count()
    assert killed_at < 120
    celery_processes.start_worker("second")
    wait_for(
        lambda: status(run) in (RunStatus.SUCCEEDED, RunStatus.FAILED),
        180,
        "the run to finish",
        celery_processes,
    )
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert_exact_samples(run)
    samples = list(Sample.objects.filter(run=run).values_list("text", "lineage"))
    assert len({text for text, _ in samples}) == 120  # nothing doubled
    for _, lineage in samples:
        steps = [step["step"] for step in lineage["trail"]]
        # Every kept sample was judged last, and passed: no rewrite kept unjudged.
        assert steps[0] == "draft" and steps[-1] == "judge", steps
        assert all(v["pass"] for v in lineage["trail"][-1]["verdicts"].values())
    assert any("revision" in str(lineage) for _, lineage in samples)
    assert run.events.filter(message__contains="resuming").exists()
