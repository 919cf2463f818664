"""Headless Chromium (Debian's package) driven by Playwright, for page tests."""

import shutil
from collections.abc import Iterator

import pytest
from django.db import connections

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator:
    # Per test, not per session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and later tests that call async_to_sync would then fail.
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
        # The test's own queries ran while Playwright's loop was running, under their own
        # connection: close it here, or it outlives the test database.
        connections.close_all()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
