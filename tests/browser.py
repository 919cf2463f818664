"""Headless Chromium (Debian's package) driven by Playwright, for page tests."""

import shutil
from collections.abc import Iterator
from typing import Any

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


# Console messages that mean the page broke its Content-Security-Policy (Chromium says
# "Refused to … because it violates the following Content Security Policy directive"), or
# that htmx met an expression it may not evaluate (it runs with allowEval off).
CSP_BREACHES = ("Content Security Policy", "htmx:evalDisallowedError")


@pytest.fixture
def browser() -> Iterator:
    # Per test, not per session: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and later tests that call async_to_sync would then fail.
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    breaches: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        new_context = browser.new_context

        def watched_context(*args: Any, **kwargs: Any) -> Any:
            # Every context a test opens (phones too) reports what the CSP refused.
            context = new_context(*args, **kwargs)
            context.on("console", lambda message: _note_breach(message, breaches))
            return context

        browser.new_context = watched_context  # type: ignore[method-assign]
        yield browser
        browser.close()
        # The test's own queries ran while Playwright's loop was running, under their own
        # connection: close it here, or it outlives the test database.
        connections.close_all()
    assert breaches == [], "the page broke its Content-Security-Policy"


def _note_breach(message: Any, breaches: list[str]) -> None:
    if any(marker in message.text for marker in CSP_BREACHES):
        breaches.append(f"{message.location.get('url', '')}: {message.text}")


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
