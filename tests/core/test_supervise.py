"""`make run`'s supervisor (config/supervise.py): a process that dies is restarted, the
others keep serving, Ctrl-C stops everything."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.inference.server import free_port
from tests.runs.workers import ROOT


class Supervised:
    """`python -m config.supervise <Procfile>` with its output in a file."""

    def __init__(self, procfile: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.supervise", str(procfile)],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def pids(self, name: str) -> list[int]:
        return [int(p) for p in re.findall(rf"{name} started \(pid (\d+)\)", self.output())]

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n{self.output()[-4000:]}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.fixture
def supervised(tmp_path) -> Iterator:
    started: list[Supervised] = []

    def start(procfile_text: str | None = None, **env: str) -> Supervised:
        procfile = ROOT / "Procfile"
        if procfile_text is not None:
            procfile = tmp_path / "Procfile"
            procfile.write_text(procfile_text)
        sup = Supervised(procfile, {**os.environ, **env}, tmp_path / f"out{len(started)}.log")
        started.append(sup)
        return sup

    yield start
    for sup in started:
        if sup.proc.poll() is None:
            # Its own Ctrl-C first: its children live in sessions of their own, which a
            # SIGKILL of the supervisor would leave running.
            try:
                sup.stop()
            except subprocess.TimeoutExpired:
                os.killpg(sup.proc.pid, signal.SIGKILL)
                sup.proc.wait()


def test_a_killed_process_is_restarted_and_the_others_keep_running(supervised):
    sup = supervised("a: sleep 1000\nb: sleep 1000\n")
    sup.wait_for(lambda: sup.pids("a") and sup.pids("b"), 10, "both started")
    (a_pid,), (b_pid,) = sup.pids("a"), sup.pids("b")
    os.kill(a_pid, signal.SIGKILL)
    sup.wait_for(lambda: len(sup.pids("a")) == 2, 10, "a restarted")
    assert re.search(
        r"a \(pid \d+\) exited unexpectedly \(killed by SIGKILL\) after \d+ s; restarting in 1 s"
        r" \(restart 1 in the last 10 minutes\)",
        sup.output(),
    )
    assert alive(b_pid) and sup.pids("b") == [b_pid]
    assert alive(sup.pids("a")[1])


def test_a_process_that_keeps_failing_is_restarted_with_growing_delays(supervised):
    sup = supervised("flaky: echo starting; exit 3\n")
    sup.wait_for(lambda: len(sup.pids("flaky")) >= 3, 20, "three starts")
    output = sup.output()
    assert "flaky      | starting" in output  # its output is relayed with its name
    delays = re.findall(r"exited unexpectedly \(exit code 3\).*restarting in (\d+) s", output)
    assert delays[:3] == ["1", "2", "4"]
    assert "(restart 2 in the last 10 minutes)" in output


def test_ctrl_c_stops_every_process_and_restarts_none(supervised):
    sup = supervised("a: sleep 1000\nb: sleep 1000\n")
    sup.wait_for(lambda: sup.pids("a") and sup.pids("b"), 10, "both started")
    pids = sup.pids("a") + sup.pids("b")
    assert sup.stop() == 130
    assert not any(alive(pid) for pid in pids)
    assert "SIGINT received: stopping every process" in sup.output()
    assert "exited unexpectedly" not in sup.output()
    assert len(sup.pids("a")) == 1


def test_a_process_that_ignores_sigterm_is_killed_when_stopping(supervised):
    sup = supervised("stubborn: trap '' TERM; while true; do sleep 0.2; done\n")
    sup.wait_for(lambda: sup.pids("stubborn"), 10, "started")
    assert sup.stop() == 130
    assert "sending SIGKILL" in sup.output()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_make_run_processes_survive_the_death_of_any_one(supervised, tmp_path):
    """The real Procfile (web, worker, beat, embedded model) with make run's settings:
    kill -9 each in turn; it is restarted and serves again, the others keep their pids."""
    db = connection.settings_dict
    web_port, llm_port = free_port(), free_port()
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SEEDBED_PORT": str(web_port),
        "EMBEDDED_LLM_URL": f"http://127.0.0.1:{llm_port}/v1",
        "DEBUG": "false",
        "HTTPS": "false",
        "SECRET_KEY": "test-secret-key-for-the-supervised-stack-0123456789",
        "FIELD_ENCRYPTION_SALTS": "test-salt",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    sup = supervised(**env)
    names = ["web", "worker", "beat", "llm"]
    sup.wait_for(lambda: all(sup.pids(n) for n in names), 30, "every process started")

    def web_serves() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{web_port}/accounts/login/").status_code == 200
        except httpx.HTTPError:
            return False

    def llm_serves() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{llm_port}/v1/models").status_code == 200
        except httpx.HTTPError:
            return False

    sup.wait_for(web_serves, 60, "the web process to serve")
    sup.wait_for(llm_serves, 120, "the embedded model to serve")
    sup.wait_for(lambda: "celery@" in sup.output() and "ready." in sup.output(), 60, "worker")
    for name in names:
        before = {n: sup.pids(n) for n in names}
        os.kill(before[name][-1], signal.SIGKILL)
        count = len(before[name])
        sup.wait_for(lambda n=name, c=count: len(sup.pids(n)) > c, 30, f"{name} restarted")
        assert re.search(rf"{name} \(pid {before[name][-1]}\) exited unexpectedly", sup.output())
        for other in names:
            if other != name:
                assert sup.pids(other) == before[other] and alive(before[other][-1]), other
        sup.wait_for(web_serves, 60, "the web process to serve again")
        sup.wait_for(llm_serves, 120, "the embedded model to serve again")
    assert sup.stop() == 130
