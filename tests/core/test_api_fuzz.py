"""Property-based test of every operation in `/api/schema/` with schemathesis: whatever
the input, no answer is a 5xx and every answer matches the documented schema.

It runs against a real uvicorn serving config.asgi (the gateway is async code with a
batched history writer), with the API key of a project's owner. 25 examples per
operation keep it to a few minutes on 2 cores. Nothing is excluded: operations that
start work (runs, labelling jobs, /generate, the gateway) meet no reachable provider here,
which must be a clean 4xx/502/503/504, not a 500.

pytest 9 cannot use schemathesis's lazy `from_fixture` loader, so the schema is built at
import time by drf-spectacular's generator, the code behind `/api/schema/`;
`test_the_fuzzed_schema_is_the_served_one` checks that the two are the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from apps.inference.recording import inference_record
from tests.datasets.helpers import add_version, ner
from tests.inference.server import GatewayServer, server_env

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES_PER_OPERATION = 25
AUTH_HEADERS = {"authorization", "x-api-key"}

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA)
statuses: Counter[int] = Counter()


@pytest.fixture(scope="module")
def api_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[GatewayServer]:
    with django_db_blocker.unblock():
        # An unknown history id is a 404 after a short wait for a row still being
        # written; the fuzzer asks for hundreds of them.
        server = GatewayServer(env=server_env(INFERENCE_PENDING_WAIT_SECONDS="0.1"))
        server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
def api_key(owner: Any, owner_key: str) -> str:
    """The key of a project's owner (tests/conftest.py), committed for the server, and
    rows for the list operations to answer with (their shapes are checked too): a call
    that failed before any provider was chosen, and a dataset with samples."""
    inference_record(
        project=owner.project,
        model_id="nobody/none",
        protocol="openai",
        task="chat",
        request={"model": "nobody/none"},
        status="error",
        error="The model does not exist.",
        http_status=404,
    )
    add_version(owner.project, "people", [ner(0), ner(1)], task_type="ner")
    return owner_key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same examples on every run: a failure in CI reproduces
)
def test_api(case: Any, api_key: str, api_server: GatewayServer) -> None:
    # The generated credentials (empty or random) would make every call a 401: the
    # owner's key goes in their place, so the operations themselves are exercised.
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in AUTH_HEADERS}
    case.headers = {**headers, "X-API-Key": api_key}
    response = case.call_and_validate(
        base_url=api_server.base_url,
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )
    statuses[response.status_code] += 1


def test_the_fuzz_reached_the_operations() -> None:
    """Runs after test_api: most answers were not 401s (the key worked)."""
    if not statuses:
        pytest.skip("test_api did not run")
    total = sum(statuses.values())
    assert statuses[401] < total / 10, statuses
    assert sum(n for code, n in statuses.items() if code < 300) > 0, statuses


def test_the_fuzzed_schema_is_the_served_one(api_server: GatewayServer, api_key: str) -> None:
    served = httpx.get(
        f"{api_server.base_url}/api/schema/?format=json", headers={"X-API-Key": api_key}
    )
    assert served.status_code == 200

    def operations(paths: dict[str, Any]) -> set[str]:
        return {op["operationId"] for item in paths.values() for op in item.values()}

    assert operations(served.json()["paths"]) == operations(SCHEMA["paths"])
