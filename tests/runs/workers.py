"""Real Celery worker and beat processes for the reliability tests.

They run against the test database and the test Redis, so the tests must commit their
data (`django_db(transaction=True)`).
"""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
STALE_SECONDS = 6


def procfile_celery_args(name: str) -> list[str]:
    """The arguments after `celery -A config` of a Procfile process, so that fault tests
    run the worker exactly as `make run` does."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            words = shlex.split(command)
            start = words.index("celery")
            assert words[start + 1 : start + 3] == ["-A", "config"], command
            return words[start + 3 :]
    raise LookupError(f"no {name!r} process in the Procfile")


class Processes:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill -9 reaches children
        )
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str = "worker", *, as_make_run: bool = False) -> None:
        """One worker process; `as_make_run` starts it with the Procfile's own arguments
        (prefork pool of 2), the others with a pool of 1 for cheaper tests."""
        if as_make_run:
            args = procfile_celery_args("worker")
        else:
            args = ["worker", "--queues", "default,runs", "--concurrency", "1"]
            args += ["--loglevel", "INFO"]
        self.start(name, *args, "--hostname", f"{name}-{time.time_ns()}@test")

    def start_beat(self) -> None:
        schedule = self.log_dir / "beat-schedule"
        self.start("beat", "beat", "--loglevel", "INFO", "--schedule", str(schedule))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        for name in list(self.procs):
            proc = self.procs[name]
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
            self.procs.pop(name)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.log_dir.glob("*.log")
        )


@pytest.fixture
def celery_processes(transactional_db, tmp_path) -> Iterator[Processes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"),
        "REDIS_URL": settings.REDIS_URL,
        "PROVIDER_HOST_ALLOWLIST": "127.0.0.1",
        "RUN_STALE_SECONDS": str(STALE_SECONDS),
        "RUN_REAPER_INTERVAL": "1",
        "RUN_CHUNK_SECONDS": "1",
    }
    procs = Processes(env, tmp_path)
    yield procs
    procs.stop_all()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, procs: Processes) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{procs.logs()}")
