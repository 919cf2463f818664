"""The inference gateway's overhead: 200 concurrent clients sending non-streaming chat
completions through Seedbed (uvicorn, real PostgreSQL and Redis) to a fake OpenAI server
with 50 ms latency (separate process), versus the same load sent to the fake directly.

Two loads, both from a separate load-generator process (this file run as a module):

* paced: 200 clients sharing a schedule of PACED_RATE requests per second; the latency
  each request sees, gateway minus direct, is the overhead (targets: p50 <= 5 ms);
* saturated: 200 clients each sending as fast as their answers come back; requests per
  second through the gateway (target >= 500).

Then the history must hold exactly one row per request sent through the gateway.

    bash config/scripts/bench.sh -k gateway          # GATEWAY_BENCH_WORKERS=1|2 (default 2)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 200
LATENCY_MS = 50
PACED_RATE = 500  # requests per second
PACED_SECONDS = 8
SATURATED_SECONDS = 8
WARMUP = 400
TARGET_P50_OVERHEAD_MS = 5.0
TARGET_RPS = 500
MESSAGES = [{"role": "user", "content": "Write one short sentence about rivers."}]


# ---- the load generator (runs in its own process) ------------------------------------


async def _load(
    url: str, key: str, model: str, clients: int, seconds: float, rate: float | None, warmup: int
) -> dict[str, Any]:
    import aiohttp

    body = json.dumps({"model": model, "messages": MESSAGES}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(record: bool) -> None:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}: {payload[:200]!r}")
                        return
                    assert json.loads(payload)["choices"][0]["message"]["content"]
            except Exception as exc:
                errors.append(repr(exc))
                return
            if record:
                latencies.append(time.perf_counter() - started)

        gate = asyncio.Semaphore(clients)

        async def gated() -> None:
            async with gate:
                await one(False)

        await asyncio.gather(*(gated() for _ in range(warmup)))
        sent = warmup
        begin = time.perf_counter()
        end = begin + seconds

        async def client(number: int) -> None:
            nonlocal sent
            turn = 0
            while True:
                if rate:
                    # Request k of this client is number + k * clients in a shared schedule.
                    due = begin + (number + turn * clients) / rate
                    if due >= end:
                        return
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                elif time.perf_counter() >= end:
                    return
                turn += 1
                sent += 1
                await one(True)

        await asyncio.gather(*(client(n) for n in range(clients)))
        wall = time.perf_counter() - begin
    latencies.sort()
    n = len(latencies)
    return {
        "sent": sent,
        "ok": n,
        "errors": len(errors),
        "first_errors": errors[:3],
        "rps": n / wall,
        "p50_ms": latencies[n // 2] * 1000 if n else None,
        "p95_ms": latencies[int(n * 0.95)] * 1000 if n else None,
        "p99_ms": latencies[int(n * 0.99)] * 1000 if n else None,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="none")
    parser.add_argument("--model", required=True)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    args = parser.parse_args(argv)
    import uvloop

    result = uvloop.run(
        _load(args.url, args.key, args.model, args.clients, args.seconds, args.rate, args.warmup)
    )
    print(json.dumps(result), flush=True)


# ---- the benchmark -------------------------------------------------------------------


def run_load(url: str, key: str, model: str, *, seconds: float, rate: float | None) -> dict:
    command = [
        sys.executable, "-m", "tests.benchmarks.test_gateway", "--url", url, "--key", key,
        "--model", model, "--seconds", str(seconds),
    ]  # fmt: skip
    if rate:
        command += ["--rate", str(rate)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "tests.fakes.openai_server", "--port", "0",
            "--latency-ms", str(LATENCY_MS), "--no-log",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("READY"), line
    yield f"http://127.0.0.1:{line.split()[1]}/v1"
    proc.terminate()
    proc.wait(10)
    proc.stdout.close()


def _line(label: str, r: dict[str, Any]) -> str:
    return (
        f"  {label:<26} {r['ok']:6d} ok {r['errors']:3d} errors  {r['rps']:7.0f} req/s  "
        f"p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
    )


@pytest.mark.django_db(transaction=True)
def test_gateway_overhead(fake_upstream):
    from django.conf import settings

    from apps.inference.models import Inference
    from tests.factories import MembershipFactory, ProviderFactory, api_key_for
    from tests.inference.server import GatewayServer, server_env, wait_until

    workers = int(os.environ.get("GATEWAY_BENCH_WORKERS", "2"))
    membership = MembershipFactory()
    ProviderFactory(
        project=membership.project,
        name="fake",
        base_url=fake_upstream,
        default_model="fake-gpt",
        max_concurrency=1024,  # the provider's cap must not be what is measured
    )
    key = api_key_for(membership)
    # Production-like: DEBUG off (no query log), the test process's secrets.
    env = server_env(
        DEBUG="false",
        SECRET_KEY=settings.SECRET_KEY,
        FIELD_ENCRYPTION_SALTS=",".join(settings.SALT_KEY),
        SECURE_SSL_REDIRECT="false",
    )
    server = GatewayServer(workers=workers, env=env).wait_ready()
    try:
        direct_url = f"{fake_upstream}/chat/completions"
        gateway_url = f"{server.base_url}/v1/chat/completions"
        print(
            f"\n[bench gateway] {CLIENTS} clients, upstream {LATENCY_MS} ms, uvicorn "
            f"--workers {workers}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f}"
        )
        paced_direct = run_load(direct_url, key, "fake-gpt", seconds=PACED_SECONDS, rate=PACED_RATE)
        paced_gateway = run_load(
            gateway_url, key, "fake/fake-gpt", seconds=PACED_SECONDS, rate=PACED_RATE
        )
        full_direct = run_load(direct_url, key, "fake-gpt", seconds=SATURATED_SECONDS, rate=None)
        full_gateway = run_load(
            gateway_url, key, "fake/fake-gpt", seconds=SATURATED_SECONDS, rate=None
        )
        print(f" paced at {PACED_RATE} req/s:")
        print(_line("direct to the fake", paced_direct))
        print(_line("through the gateway", paced_gateway))
        print(" saturated (each client sends again as soon as answered):")
        print(_line("direct to the fake", full_direct))
        print(_line("through the gateway", full_gateway))
        p50 = paced_gateway["p50_ms"] - paced_direct["p50_ms"]
        p95 = paced_gateway["p95_ms"] - paced_direct["p95_ms"]
        sent = paced_gateway["sent"] + full_gateway["sent"]
        wait_until(
            lambda: Inference.objects.filter(project=membership.project).count() >= sent,
            timeout=30,
            what="the history rows",
        )
        time.sleep(0.5)  # anything written late would show up as extra rows
        rows = Inference.objects.filter(project=membership.project).count()
        failed = Inference.objects.filter(project=membership.project, status="error").count()
        print(
            f" added latency (paced): p50 {p50:+.1f} ms (target <= {TARGET_P50_OVERHEAD_MS}), "
            f"p95 {p95:+.1f} ms; gateway throughput {full_gateway['rps']:.0f} req/s "
            f"(target >= {TARGET_RPS}); history rows {rows} for {sent} requests "
            f"({failed} recorded as errors)"
        )
    finally:
        server.stop()
    assert paced_gateway["errors"] == 0 and full_gateway["errors"] == 0, (
        paced_gateway["first_errors"] or full_gateway["first_errors"]
    )
    assert rows == sent
    if os.environ.get("GATEWAY_BENCH_STRICT"):
        assert p50 <= TARGET_P50_OVERHEAD_MS
        assert full_gateway["rps"] >= TARGET_RPS


if __name__ == "__main__":
    main()
