"""Provider limits in Redis: requests/minute, tokens/minute and the concurrency cap,
checked across real separate processes against one fake provider."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from django.conf import settings as django_settings

from apps.core.llm import LimiterUnavailable, LLMClient, ProviderConfig, ProviderLimiter, scripts
from tests.fakes.helpers import run_async
from tests.fakes.openai_server import FakeOpenAI

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("allow_loopback")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return run_async(coro)


def unique_key() -> str:
    return f"test:{uuid.uuid4().hex[:10]}"


class Worker:
    """A `tests.fakes.load_worker` subprocess and the JSON lines it printed."""

    def __init__(self, *args: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PROVIDER_HOST_ALLOWLIST": "127.0.0.1",
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.load_worker", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._ready = threading.Event()
        # One reader owns the pipe: mixing readline() with communicate() loses lines.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            if record.get("ready"):
                self._ready.set()
            else:
                self.lines.append(record)
        self._ready.set()  # exited: do not leave wait_ready() hanging

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self._ready.wait(timeout), "worker did not start"
        assert self.proc.poll() is None, f"worker exited early with {self.proc.returncode}"

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.close()

    def finish(self, timeout: float) -> list[dict[str, Any]]:
        """Wait up to `timeout`, kill if still running, return the finished calls."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reader.join(10)
        return self.lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.finish(timeout=0)
        if worker.proc.stdout is not None:
            worker.proc.stdout.close()


def start_workers(workers: list[Worker], count: int, *args: str) -> list[Worker]:
    new = [Worker(*args) for _ in range(count)]
    workers.extend(new)
    for worker in new:
        worker.wait_ready()
    for worker in new:  # all at once: none may take the shared limit before the other starts
        worker.go()
    return new


def settled(reached: Callable[[], bool], *, within: float = 60.0, then: float = 3.0) -> None:
    """Wait until `reached()` (a loaded machine starts the processes slowly), then `then`
    seconds more, in which a limit that does not hold would let more calls through."""
    deadline = time.monotonic() + within
    while not reached() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(then)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(django_settings.REDIS_URL, decode_responses=True)
    yield client
    client.close()


# ---- across processes ---------------------------------------------------------------------


def test_requests_per_minute_holds_across_two_processes(
    fake_openai: FakeOpenAI, workers: list[Worker]
) -> None:
    key = unique_key()
    args = ("--base-url", fake_openai.base_url, "--key", key, "--calls", "10", "--rpm", "10")

    started = start_workers(workers, 2, *args)
    settled(lambda: len(fake_openai.requests) >= 10)
    results = [line for worker in started for line in worker.finish(timeout=0)]

    assert len(fake_openai.requests) == 10, results
    assert sum(1 for line in results if line.get("ok")) == 10


def test_tokens_per_minute_holds_across_two_processes(
    fake_openai: FakeOpenAI, workers: list[Worker]
) -> None:
    # Each call reserves 400/4 + 100 = 200 tokens up front and really uses ~120.
    key = unique_key()
    args = (
        "--base-url", fake_openai.base_url, "--key", key, "--calls", "10",
        "--tpm", "1000", "--max-tokens", "100", "--prompt-chars", "400",
    )  # fmt: skip

    started = start_workers(workers, 2, *args)
    settled(lambda: len(fake_openai.requests) >= 5)
    for worker in started:
        worker.finish(timeout=0)

    used = fake_openai.usage_tokens()
    assert 0 < used <= 1000
    # 5 fit on estimates alone; settling to real usage frees room for 2-3 more, not 15.
    assert 5 <= len(fake_openai.requests) <= 8


def test_concurrency_cap_holds_across_two_processes(
    fake_openai: FakeOpenAI, workers: list[Worker]
) -> None:
    fake_openai.script(latency=0.15)
    key = unique_key()
    args = ("--base-url", fake_openai.base_url, "--key", key, "--calls", "12")

    started = start_workers(workers, 2, *args, "--max-concurrency", "4")
    results = [line for worker in started for line in worker.finish(timeout=30)]

    assert sum(1 for line in results if line.get("ok")) == 24
    assert fake_openai.max_in_flight == 4
    assert all(worker.lines for worker in started)


def test_slots_of_a_crashed_process_expire(
    fake_openai: FakeOpenAI, workers: list[Worker], redis_client: redis.Redis
) -> None:
    fake_openai.script(stall=True)
    key = unique_key()
    [worker] = start_workers(
        workers, 1, "--base-url", fake_openai.base_url, "--key", key, "--calls", "2",
        "--max-concurrency", "2", "--lease", "1.0",
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while fake_openai.in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_openai.in_flight == 2

    worker.kill()  # SIGKILL: no chance to give its slots back
    slots_key = f"seedbed:limits:{{{key}}}:conc"
    assert redis_client.zcard(slots_key) == 2
    fake_openai.reset()

    config = ProviderConfig(
        key=key, kind="openai", base_url=fake_openai.base_url, max_concurrency=2
    )

    async def two_calls() -> float:
        client = LLMClient(config, limiter=ProviderLimiter.for_config(config, lease_seconds=1))
        started = time.monotonic()
        await asyncio.gather(*(client.chat([{"role": "user", "content": "hi"}]) for _ in range(2)))
        return time.monotonic() - started

    waited = run(two_calls())
    assert 0.1 < waited < 3.0  # blocked by the dead leases, freed when they ran out
    assert len(fake_openai.requests) == 2


# ---- in one process -----------------------------------------------------------------------


def test_concurrency_cap_in_one_process(fake_openai: FakeOpenAI, redis_client: redis.Redis) -> None:
    fake_openai.script(latency=0.05)
    config = ProviderConfig(
        key=unique_key(), kind="openai", base_url=fake_openai.base_url, max_concurrency=5
    )

    async def many() -> None:
        client = LLMClient(config)
        await asyncio.gather(*(client.chat([{"role": "user", "content": "x"}]) for _ in range(30)))

    run(many())
    assert fake_openai.max_in_flight == 5
    assert len(fake_openai.requests) == 30
    # The loop's shutdown gave the leased slots back at once (not after lease expiry).
    assert redis_client.zcard(f"seedbed:limits:{{{config.key}}}:conc") == 0


def test_steady_state_needs_no_redis_call_per_request(
    fake_openai: FakeOpenAI, redis_client: redis.Redis
) -> None:
    config = ProviderConfig(
        key=unique_key(), kind="openai", base_url=fake_openai.base_url, max_concurrency=8
    )

    async def many() -> None:
        client = LLMClient(config)
        await asyncio.gather(*(client.chat([{"role": "user", "content": "x"}]) for _ in range(200)))

    redis_client.config_resetstat()
    run(many())
    stats = redis_client.info("commandstats")
    calls = sum(v["calls"] for name, v in stats.items() if name.startswith("cmdstat_eval"))
    assert len(fake_openai.requests) == 200
    assert calls <= 10  # batch lease + release, not 2 per request


def test_rpm_script_is_an_exact_sliding_window(redis_client: redis.Redis) -> None:
    key = unique_key()
    limiter = ProviderLimiter(key, requests_per_minute=3)

    async def starts() -> list[int]:
        redis_async = limiter.redis()
        return [
            int(await scripts.rpm_acquire(redis_async, limiter._rpm_keys, [3, 60_000, f"m{n}"]))
            for n in range(4)
        ]

    waits = run(starts())
    assert waits[:3] == [0, 0, 0]
    assert 59_000 < waits[3] <= 60_001  # the first start must leave the window first
    assert redis_client.zcard(f"seedbed:limits:{{{key}}}:rpm") == 3


def test_rpm_waits_for_the_window_to_move(redis_client: redis.Redis) -> None:
    key = unique_key()
    zset = f"seedbed:limits:{{{key}}}:rpm"
    # Two starts recorded 59.5 s ago (by Redis' clock): the window frees them in ~0.5 s.
    seconds, micros = redis_client.time()
    old = seconds * 1000 + micros // 1000 - 59_500
    redis_client.zadd(zset, {"old1": old, "old2": old})
    limiter = ProviderLimiter(key, requests_per_minute=2)

    async def one() -> float:
        started = time.monotonic()
        await limiter.wait_request()
        return time.monotonic() - started

    waited = run(one())
    assert 0.3 < waited < 1.5


def test_tpm_settling_frees_the_unused_estimate() -> None:
    limiter = ProviderLimiter(unique_key(), tokens_per_minute=1000)

    async def scenario() -> tuple[float, float]:
        reservation = await limiter.reserve_tokens(800)
        await limiter.settle_tokens(reservation, 100)
        started = time.monotonic()
        await limiter.reserve_tokens(900)  # fits only because 700 were given back
        fast = time.monotonic() - started
        blocked = await scripts.tpm_reserve(
            limiter.redis(), limiter._tpm_keys, [1000, 60_000, "probe", 10]
        )
        return fast, blocked

    fast, blocked = run(scenario())
    assert fast < 0.2
    assert blocked > 50_000  # the window is full for about a minute


def test_limits_without_rpm_or_tpm_do_not_touch_redis() -> None:
    limiter = ProviderLimiter(unique_key(), redis_url="redis://127.0.0.1:1/0")

    async def calls() -> None:
        await limiter.wait_request()
        assert await limiter.reserve_tokens(500) is None

    run(calls())


def test_unreachable_redis_is_a_typed_retryable_error() -> None:
    limiter = ProviderLimiter(
        unique_key(), requests_per_minute=10, redis_url="redis://127.0.0.1:1/0"
    )
    with pytest.raises(LimiterUnavailable) as caught:
        run(limiter.wait_request())
    assert caught.value.retryable
