import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings
from django.test import Client

from apps.core.embedded import server_command
from tests.factories import MembershipFactory, api_key_for

pytest_plugins = [
    "tests.fakes.pytest_plugin",
    "tests.browser",
    "tests.live_server",
    "tests.runs.workers",
]

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by
# tests and the live server around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def owner(db):
    """A user who owns a project."""
    return MembershipFactory()


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner.user)
    return client


@pytest.fixture
def owner_key(owner) -> str:
    return api_key_for(owner)


@pytest.fixture(scope="session")
def embedded_llm() -> Iterator[str]:
    """The real SmolLM2 server on the port of settings.EMBEDDED_LLM_URL."""
    url = settings.EMBEDDED_LLM_URL
    port = urlsplit(url).port or 8765
    try:
        if httpx.get(f"{url}/models", timeout=1).status_code == 200:
            yield url  # already running (e.g. `make run` in another terminal)
            return
    except httpx.HTTPError:
        pass
    # llama.cpp logs a lot: a file, not a pipe nobody reads (a full pipe blocks the server).
    log = tempfile.NamedTemporaryFile(prefix="seedbed-embedded-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(server_command(port), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = open(log.name, encoding="utf-8", errors="replace").read()  # noqa: SIM115
            raise RuntimeError(f"embedded server exited: {output[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("embedded server did not answer within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=10)
