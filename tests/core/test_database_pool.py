"""The web process keeps its PostgreSQL connections open in a pool (`DATABASE_POOL_SIZE`).

Proven by refusing new connections to the database: a pooled server goes on answering
from the connections it holds, while one without a pool fails at its next request.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from django.db import connection

from tests.factories import MembershipFactory, api_key_for
from tests.inference.server import ROOT, GatewayServer, server_env

ROLE = "seedbed_pool_test"


@contextmanager
def web_role() -> Iterator[str]:
    """A login role for the server that, unlike the test run's superuser, is subject to
    connection limits; its DATABASE_URL."""
    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    try:
        yield f"postgres://{ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {ROLE}")
            cursor.execute(f"DROP ROLE {ROLE}")


@contextmanager
def new_connections_refused() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER ROLE {ROLE} CONNECTION LIMIT 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER ROLE {ROLE} CONNECTION LIMIT -1")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool_size, served", [("2", True), ("0", False)])
def test_pooled_web_server_answers_from_the_connections_it_holds(
    pool_size: str, served: bool
) -> None:
    key = api_key_for(MembershipFactory.create())
    with web_role() as database_url:
        env = server_env(DATABASE_URL=database_url, DATABASE_POOL_SIZE=pool_size)
        server = GatewayServer(env=env).wait_ready()
        try:
            with httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}) as client:
                assert client.get("/api/v1/specs/").status_code == 200
                with new_connections_refused():
                    statuses = [client.get("/api/v1/specs/").status_code for _ in range(5)]
        finally:
            server.stop()
    if served:
        assert statuses == [200] * 5
    else:
        assert statuses == [500] * 5, server.logs()


def test_pool_and_persistent_connections_are_refused_together() -> None:
    env = {**os.environ, "DATABASE_POOL_SIZE": "4", "CONN_MAX_AGE": "60"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Set DATABASE_POOL_SIZE or CONN_MAX_AGE, not both" in result.stderr
