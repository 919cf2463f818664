"""The live server of the page tests runs as production does: DEBUG off, static files
collected with hashed names and served by WhiteNoise (not Django's test static handler,
which would hide a page that breaks once `collectstatic` has run)."""

import os
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test.utils import override_settings
from pytest_django.live_server_helper import LiveServer

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    production = override_settings(
        DEBUG=False,
        STATIC_ROOT=str(tmp_path_factory.mktemp("static")),
        STORAGES=MANIFEST_STORAGES,
    )
    production.enable()
    call_command("collectstatic", interactive=False, verbosity=0)
    server = LiveServer(os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS", "localhost"), start=False)
    server.thread.static_handler = lambda handler: handler  # type: ignore[assignment]  # WhiteNoise serves them
    server.start()
    yield server
    server.stop()
    production.disable()
