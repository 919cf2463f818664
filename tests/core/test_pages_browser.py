import re

import pytest

from apps.core import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_login_and_test_embedded_provider(live_server, page, embedded_llm):
    user = services.user_create(username="carol", password="carol-pw-123")
    services.project_create(name="Carol's lab", owner=user)

    page.goto(f"{live_server.url}/providers/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "carol")
    page.fill("input[name=password]", "carol-pw-123")
    page.click("button[type=submit]")

    page.get_by_role("link", name="Providers").click()
    row = page.locator("tr", has_text="embedded").first
    row.get_by_role("button", name="Test connection").click()
    result = page.locator(".test-result").first
    result.get_by_text(re.compile("answered with 1 model")).wait_for()
    assert "smollm2-135m-instruct" in result.inner_text()
    page.screenshot(path="/tmp/seedbed-providers.png", full_page=True)


def test_unreachable_provider_shows_the_error(live_server, page, settings):
    settings.PROVIDER_HOST_ALLOWLIST = ["127.0.0.1"]
    user = services.user_create(username="dan", password="dan-pw-12345")
    project = services.project_create(name="Dan's lab", owner=user)
    project.providers.filter(name="embedded").update(base_url="http://127.0.0.1:9/v1")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "dan")
    page.fill("input[name=password]", "dan-pw-12345")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/providers/")
    page.get_by_role("button", name="Test connection").click()
    error = page.locator(".test-result .error")
    error.wait_for()
    assert "embedded" in error.inner_text()


def test_a_new_api_key_has_a_copy_button(live_server, page):
    user = services.user_create(username="erin", password="erin-pw-12345")
    services.project_create(name="Erin's lab", owner=user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "erin-pw-12345")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/settings/api-keys/")
    page.fill("input[name=name]", "notebook")
    page.get_by_role("button", name="Create key").click()  # htmx swaps the key in
    page.get_by_role("button", name="Copy key").click()
    page.get_by_role("button", name="Copied").wait_for()
    key = page.locator("#new-key").inner_text().strip()
    assert len(key) > 20 and page.evaluate("navigator.clipboard.readText()") == key
