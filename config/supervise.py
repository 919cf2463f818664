"""`make run`'s process supervisor: every Procfile process runs, and one that exits is
started again while the others keep serving.

honcho (which `make run` used before) stops every process when one exits: a crashed
worker or model server was an outage of the whole stack. This runner keeps honcho's
Procfile format, its process wrapper and its prefixed, coloured output, and adds what a
supervisor does in production (systemd's `Restart=on-failure`):

* a process that exits while Seedbed is not stopping is restarted after a delay that
  doubles from 1 s up to 60 s while it keeps failing, and starts again at 1 s once it has
  run for a minute; each restart is logged with the process, why it exited (exit code or
  signal), the delay, and how often it has restarted in the last 10 minutes;
* Ctrl-C or SIGTERM stops every process (SIGTERM to its process group, SIGKILL after
  10 s) and exits; no process is restarted while stopping.

Usage: `python -m config.supervise [Procfile]`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from honcho.colour import get_colours
from honcho.compat import ProcessManager
from honcho.environ import parse_procfile
from honcho.printer import Message, Printer
from honcho.process import Process

FIRST_DELAY = 1.0  # seconds before the first restart
MAX_DELAY = 60.0
HEALTHY_AFTER = 60.0  # a process that ran this long starts again at FIRST_DELAY
WINDOW = 600.0  # "restarted N times in the last 10 minutes"
KILL_AFTER = 10.0  # seconds between SIGTERM and SIGKILL when stopping
SYSTEM = "supervisor"


def describe_exit(returncode: int) -> str:
    """'killed by SIGKILL' or 'exit code 1' (a shell reports a signal as 128 + n)."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number:
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            pass
    return f"exit code {returncode}"


def exited(pid: int) -> bool:
    """Whether our child `pid` has exited and not yet been reaped (its Popen reaps it once
    its output ends; after that its stop message is on the way)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


@dataclass
class Child:
    name: str
    command: str
    colour: str
    pid: int | None = None
    started_at: float = 0.0
    running: bool = False
    restart_at: float | None = None  # when a stopped child is due to start again
    delay: float = FIRST_DELAY
    restarts: deque[float] = field(default_factory=deque)


class Supervisor:
    def __init__(self, processes: dict[str, str], *, output=sys.stdout) -> None:
        colours = get_colours()
        self.children = {
            name: Child(name, command, next(colours)) for name, command in processes.items()
        }
        self.events: queue.Queue[Message] = queue.Queue()
        self.printer = Printer(output, width=max(len(SYSTEM), *map(len, processes)))
        self.signals = ProcessManager()
        self.signalled = 0  # SIGINT/SIGTERM received, to act on in the loop
        self.stopping_since: float | None = None
        self.killed = False
        self.returncode = 0

    # -- lifecycle --

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children.values():
            self._start(child)
        while not self._finished():
            with contextlib.suppress(queue.Empty):
                self._handle(self.events.get(timeout=0.2))
            self._tick()
        return self.returncode

    def _on_signal(self, signum: int, _frame: object) -> None:
        # Only noted here: printing from a signal handler while the loop prints would be
        # a reentrant write. The loop acts on it within 0.2 s.
        self.signalled = self.signalled or signum

    def _stop(self, signum: int) -> None:
        self.stopping_since = time.monotonic()
        self.returncode = 128 + signum
        self._say(f"{signal.Signals(signum).name} received: stopping every process")
        self._signal_all(self.signals.terminate)

    def _finished(self) -> bool:
        return self.stopping_since is not None and not any(
            child.running for child in self.children.values()
        )

    def _start(self, child: Child) -> None:
        child.restart_at = None
        child.running = True
        child.pid = None
        process = Process(child.command, name=child.name, colour=child.colour, env=dict(os.environ))
        # A thread, not honcho's forked helper: it only relays output and exit status.
        threading.Thread(target=process.run, args=(self.events,), daemon=True).start()

    def _handle(self, message: Message) -> None:
        child = self.children.get(message.name or "")
        if message.type == "line" or child is None:
            self.printer.write(message)
        elif message.type == "start":
            child.pid = message.data["pid"]
            child.started_at = time.monotonic()
            self._say(f"{child.name} started (pid {child.pid})")
            if self.stopping_since is not None:  # started while Ctrl-C was being handled
                self.signals.terminate(child.pid)
        elif message.type == "stop":
            child.running = False
            reason = describe_exit(message.data["returncode"])
            if self.stopping_since is not None:
                self._say(f"{child.name} stopped ({reason})")
            else:
                self._schedule_restart(child, reason)

    def _schedule_restart(self, child: Child, reason: str) -> None:
        now = time.monotonic()
        ran = now - child.started_at
        if ran >= HEALTHY_AFTER:
            child.delay = FIRST_DELAY
        child.restarts.append(now)
        while child.restarts and now - child.restarts[0] > WINDOW:
            child.restarts.popleft()
        child.restart_at = now + child.delay
        self._say(
            f"{child.name} (pid {child.pid}) exited unexpectedly ({reason}) after {ran:.0f} s;"
            f" restarting in {child.delay:.0f} s"
            f" (restart {len(child.restarts)} in the last {WINDOW / 60:.0f} minutes)"
        )
        child.delay = min(child.delay * 2, MAX_DELAY)

    def _tick(self) -> None:
        if self.signalled and self.stopping_since is None:
            self._stop(self.signalled)
        now = time.monotonic()
        for child in self.children.values():
            if child.running and child.pid is not None and exited(child.pid):
                # The shell running the command died, but what it started may live on
                # and keep its output open: end the whole group, as systemd would.
                self.signals.kill(child.pid)
        if self.stopping_since is None:
            for child in self.children.values():
                if child.restart_at is not None and now >= child.restart_at:
                    self._start(child)
        elif now - self.stopping_since > KILL_AFTER and not self.killed:
            self.killed = True
            self._say(f"still running after {KILL_AFTER:.0f} s: sending SIGKILL")
            self._signal_all(self.signals.kill)

    def _signal_all(self, send) -> None:
        for child in self.children.values():
            child.restart_at = None
            if child.running and child.pid is not None:
                send(child.pid)

    def _say(self, text: str) -> None:
        self.printer.write(Message("line", text, datetime.now(), SYSTEM, None))


def main() -> None:
    procfile = Path(sys.argv[1] if len(sys.argv) > 1 else "Procfile")
    processes = parse_procfile(procfile.read_text()).processes
    sys.exit(Supervisor(dict(processes)).run())


if __name__ == "__main__":
    main()
