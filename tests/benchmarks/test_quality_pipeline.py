"""Benchmark of the quality pipeline (run with `BENCH_ASSERT=0 bash config/scripts/bench.sh
-k quality`).

A 2,000-sample classification run with `skip_outline`, one `conformance` revision cycle
and the `conformance` gate, batch size 5, concurrency 32, on a real Celery worker against
the fake OpenAI server (a separate process) answering every request after 100 ms with
`PipelineModel(CLASS_LABELS, judge_fail_rate=0.2)`: its judge fails 20 % of the texts it
has not judged before (drafts, and rewrites too), its reviser rewrites a failed sample.

    ideal = ceil(calls made / 32) × 100 ms + (longest chain of calls for one sample − 1) × 100 ms

`calls made` counts every chat call in the fake's request log (drafts, judge, revisions);
the longest chain is read from the lineage trails of the accepted and the rejected
samples (draft, judge, revision, judge → 4). Target: wall time ÷ ideal ≤ 1.15, asserted
on the median of the runs unless BENCH_ASSERT=0.

Besides the ratio it prints where the wall time went, from the fake's request log (each
request occupies its 100 ms): from the run's creation to the first call, the calls
themselves (and how many of the 32 lanes were busy on average), and from the last answer
to the run's end.
"""

import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from apps.datasets.models import Sample
from apps.runs import services
from apps.runs.models import RejectedSample, Run, RunStatus
from tests.benchmarks.cpu import cpu_snapshot, postmaster_pid
from tests.factories import MembershipFactory, ProviderFactory
from tests.runs.factories import CLASS_LABELS, SpecVersionFactory
from tests.runs.pipeline_model import _role
from tests.runs.workers import wait_for

pytestmark = pytest.mark.usefixtures("allow_loopback")

REPEATS = 3
SAMPLES = 2000
CONCURRENCY = 32
BATCH = 5
LATENCY = 0.1
TARGET = 1.15
CALL_STEPS = {"outline", "draft", "judge", "revision"}  # trail steps that are model calls
QUALITY: dict[str, Any] = {
    "skip_outline": True,
    "revision_types": ["conformance"],
    "filtering_types": ["conformance"],
    "max_revision_cycles": 1,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pipeline_fake_process():
    """The fake OpenAI server as its own process (it must not compete with the worker for
    a GIL), answering as PipelineModel with a judge that fails 20 % of drafts."""
    port = free_port()
    kwargs = {"labels": CLASS_LABELS, "judge_fail_rate": 0.2}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.openai_server",
            "--port",
            str(port),
            "--latency-ms",
            str(LATENCY * 1000),
            "--responder-factory",
            "tests.runs.pipeline_model:PipelineModel",
            "--responder-kwargs",
            json.dumps(kwargs),
        ],
    )
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            httpx.get(f"{url}/models", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    FAKE_PID[url] = proc.pid
    yield url
    proc.terminate()
    proc.wait(10)


FAKE_PID: dict[str, int] = {}


def chat_log(url: str) -> list[dict[str, Any]]:
    """The fake's request log: the chat calls, in the order they arrived."""
    root = url.removesuffix("/v1")
    entries = httpx.get(f"{root}/_fake/requests", timeout=60).json()
    return [e for e in entries if e.get("path", "").endswith("/chat/completions")]


def finished_run(processes, **params) -> Run:
    run = services.run_create(batch_size=BATCH, concurrency=CONCURRENCY, **QUALITY, **params)
    # Well inside the test's timeout, so that a stuck run prints the worker's log.
    wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, 150, "the run", processes)
    run.refresh_from_db()
    return run


def chain_lengths(run: Run) -> Counter[int]:
    """How many samples (accepted and rejected) made how many calls, from their trails."""
    lengths: Counter[int] = Counter()
    for model in (Sample, RejectedSample):
        for lineage in model.objects.filter(run=run).values_list("lineage", flat=True).iterator():
            trail = (lineage or {}).get("trail", [])
            lengths[sum(1 for step in trail if step.get("step") in CALL_STEPS)] += 1
    return lengths


def busy_lanes(calls: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(first call, last answer, mean calls in flight between them) from the log."""
    first = min(e["wall"] for e in calls)
    last = max(e["wall"] for e in calls) + LATENCY
    return first, last, len(calls) * LATENCY / (last - first)


@pytest.mark.timeout(900)
def test_quality_pipeline_2000_samples(celery_processes, pipeline_fake_process):
    membership = MembershipFactory()
    provider = ProviderFactory(
        project=membership.project, base_url=pipeline_fake_process, max_concurrency=64
    )
    version = SpecVersionFactory(spec__project=membership.project)
    celery_processes.env["RUN_CHUNK_SECONDS"] = os.environ.get("BENCH_RUN_CHUNK_SECONDS", "5")
    celery_processes.start_worker()
    wait_for(lambda: "ready." in celery_processes.logs(), 60, "worker ready", celery_processes)
    common = {"membership": membership, "spec_version": version, "provider": provider}
    # A small run first, as a long-running deployment would have had (imports, TLS
    # context, the broker connection).
    warm = finished_run(celery_processes, dataset_name="warm-up", num_samples=50, **common)
    assert warm.status == RunStatus.SUCCEEDED, warm.error
    seen = len(chat_log(pipeline_fake_process))
    pids = (
        celery_processes.procs["worker"].pid,
        FAKE_PID[pipeline_fake_process],
        postmaster_pid(),
    )
    ratios = []
    for attempt in range(1, REPEATS + 1):
        before = cpu_snapshot(*pids)
        run = finished_run(
            celery_processes, dataset_name=f"quality-{attempt}", num_samples=SAMPLES, **common
        )
        cpu = {k: v - before[k] for k, v in cpu_snapshot(*pids).items()}
        assert run.status == RunStatus.SUCCEEDED, run.error
        log = chat_log(pipeline_fake_process)
        calls, seen = log[seen:], len(log)
        by_role = Counter(_role(e["json"]) for e in calls)
        lengths = chain_lengths(run)
        longest = max(lengths)
        accepted = Sample.objects.filter(run=run).count()
        ideal = math.ceil(len(calls) / CONCURRENCY) * LATENCY + (longest - 1) * LATENCY
        # From the database's own timestamps, not this test's polling of them.
        wall = (run.finished_at - run.created_at).total_seconds()
        queued = (run.started_at - run.created_at).total_seconds()
        first, last, in_flight = busy_lanes(calls)
        created, finished = run.created_at.timestamp(), run.finished_at.timestamp()
        stages = {s: u.get("calls") for s, u in sorted(run.usage_by_stage.items())}
        # Each call's latency as the engine saw it (100 ms at the fake, plus its own waits).
        seen_ms = {
            s: round(u["latency_ms"] / u["calls"]) if u.get("calls") else None
            for s, u in sorted(run.usage_by_stage.items())
        }
        if dump := os.environ.get("BENCH_QUALITY_DUMP"):
            with open(f"{dump}/quality-{attempt}.json", "w") as file:
                json.dump(
                    {
                        "created": run.created_at.timestamp(),
                        "started": run.started_at.timestamp(),
                        "finished": run.finished_at.timestamp(),
                        "calls": [[e["wall"], _role(e["json"])] for e in calls],
                    },
                    file,
                )
        ratio = wall / ideal
        ratios.append(ratio)
        print(
            f"\n[bench quality] run {attempt} at {time.strftime('%H:%M:%S', time.gmtime())}Z: "
            f"accepted {accepted}, {len(calls)} calls {dict(sorted(by_role.items()))} "
            f"(usage_by_stage {stages}, run.calls {run.calls}), "
            f"rejected {dict(sorted(run.rejected_by_reason.items()))}"
            f"\n[bench quality] calls per sample {dict(sorted(lengths.items()))}, longest "
            f"{longest}; wall(create→finish)={wall:.2f}s (queued {queued:.2f}s) "
            f"ideal={ideal:.2f}s ratio={ratio:.3f}"
            f"\n[bench quality] create→first call {first - created:.2f}s, calls "
            f"{last - first:.2f}s with {in_flight:.1f} of {CONCURRENCY} lanes busy on "
            f"average, last answer→finish {finished - last:.2f}s; mean call latency seen by "
            f"the engine {seen_ms} ms"
            f"\n[bench quality] CPU seconds during the run: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
            + f" ({1000 * cpu['worker'] / len(calls):.1f} ms of worker CPU per call); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        assert accepted == SAMPLES
    median = statistics.median(ratios)
    print(f"[bench quality] ratio median {median:.3f}, best {min(ratios):.3f} (target ≤ {TARGET})")
    if os.environ.get("BENCH_ASSERT", "1") != "0":
        assert median <= TARGET, f"wall ÷ ideal {median:.3f} > {TARGET}"
