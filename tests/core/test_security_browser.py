"""Pages under the Content-Security-Policy in Chromium: the `browser` fixture fails a test
on any CSP violation, so these only need to use the pages."""

import pytest

from apps.core import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_the_api_docs_render_under_the_csp(live_server, page):
    services.user_create(username="api-reader", password="reader-pw-12345")
    _log_in(page, live_server, "api-reader", "reader-pw-12345")
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock").first.wait_for()  # Swagger UI ran and rendered the schema
    assert page.locator(".opblock").count() > 10


def test_the_project_switcher_submits_on_choice_without_inline_script(live_server, page):
    user = services.user_create(username="sam", password="sam-pw-123456")
    services.project_create(name="First lab", owner=user)
    services.project_create(name="Second lab", owner=user)
    _log_in(page, live_server, "sam", "sam-pw-123456")
    page.goto(f"{live_server.url}/runs/")
    switcher = page.get_by_label("Project")
    chosen = (
        "Second lab" if "First" in switcher.locator("option:checked").inner_text() else "First lab"
    )
    switcher.select_option(label=chosen)
    page.wait_for_function(
        "label => document.querySelector('select[name=project_id] option:checked')"
        ".textContent.includes(label)",
        arg=chosen,
    )
    assert page.url == f"{live_server.url}/runs/"  # back on the page it was on


def test_the_lockout_page_is_shown_after_five_wrong_passwords(live_server, page):
    services.user_create(username="max", password="max-pw-123456")
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(5):
        page.fill("input[name=username]", "max")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
    page.get_by_text("Too many failed logins").wait_for()
    assert "for 15 minutes" in page.content()
