import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


def cpu_speed(seconds: float = 0.5) -> float:
    """Millions of empty Python loop iterations per second on one core.

    This VM shares its host: the same benchmark can take twice as long when neighbours
    are busy, without any CPU steal showing. Printed next to each benchmark so that a
    slow figure can be told apart from a slow moment.
    """
    count = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        count += 1
    return count / seconds / 1e6


@pytest.fixture(autouse=True)
def bench_conditions(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Each benchmark starts once what earlier work wrote has reached the disk.

    Creating the 1,000,000-sample dataset leaves about a gigabyte of dirty pages (and
    PostgreSQL's dirty buffers, written at its next checkpoint). On this VM their
    writeback showed up as 7-13 % CPU steal for half a minute, and the LLM client
    benchmark run right after it measured 2.08x ideal instead of 1.28x. Module fixtures
    such as that dataset are set up before this runs, so their writes are flushed too.
    """
    started = time.monotonic()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    os.sync()
    print(
        f"\n[bench] disk settled in {time.monotonic() - started:.1f} s; "
        f"CPU speed {cpu_speed():.1f} M loops/s"
    )
    yield
    print(f"\n[bench] CPU speed after: {cpu_speed():.1f} M loops/s")
