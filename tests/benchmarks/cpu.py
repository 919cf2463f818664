"""CPU seconds of the processes a benchmark runs (the worker, the fake provider,
PostgreSQL and the test itself), so that a slow figure can say where the time went."""

import os

from django.db import connection

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(root: int) -> float:
    """CPU time of a process, its reaped children and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if (fields := _stat(pid)) is not None:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            todo += children.get(pid, [])
    return total / TICKS


def postmaster_pid() -> int | None:
    port = str(connection.settings_dict["PORT"])
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                args = file.read().split(b"\0")
        except OSError:
            continue
        if (
            args[0].endswith(b"postgres")
            and b"-p" in args
            and args[args.index(b"-p") + 1].decode() == port
        ):
            return int(entry)
    return None


def cpu_snapshot(worker: int, fake: int, postgres: int | None) -> dict[str, float]:
    return {
        "worker": cpu_seconds(worker),
        "fake": cpu_seconds(fake),
        "postgres": cpu_seconds(postgres) if postgres else 0.0,
        "test": sum(os.times()[:2]),  # this process alone (the others are its children)
    }
