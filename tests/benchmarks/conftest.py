import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def settled_disk(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Each benchmark starts once what earlier work wrote has reached the disk.

    Creating the 1,000,000-sample dataset leaves about a gigabyte of dirty pages (and
    PostgreSQL's dirty buffers, written at its next checkpoint). On this VM their
    writeback shows up as 10-15 % CPU steal for half a minute, which doubled the LLM
    client's measured overhead and pushed page p95s over 50 ms. Module fixtures such as
    that dataset are set up before this runs, so their writes are flushed too.
    """
    started = time.monotonic()
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    os.sync()
    print(f"\n[bench] disk settled in {time.monotonic() - started:.1f} s")
    yield
