import pytest

from apps.core import services as core_services
from apps.core import tasks as core_tasks
from apps.specs.models import Spec
from tests.specs.helpers import run_check

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_create_a_classification_spec_in_the_browser(live_server, page, monkeypatch):
    # No worker here: the task is run by hand below, as a worker would.
    monkeypatch.setattr(core_tasks.job_step_task, "apply_async", lambda *args, **options: None)
    user = core_services.user_create(username="erin", password="erin-pw-12345")
    core_services.project_create(name="Erin's lab", owner=user)

    page.goto(f"{live_server.url}/specs/")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=password]", "erin-pw-12345")
    page.click("button[type=submit]")
    page.get_by_text("No specs yet").wait_for()
    page.get_by_role("button", name="Start from an example").click()

    assert page.input_value("input[name=name]") == "Support ticket intents"
    page.fill("input[name=name]", "Ticket intents")
    page.fill("textarea[name=requirements]", "Written by a customer.\n<b>No</b> real names.")
    page.get_by_role("button", name="Create spec").click()

    page.get_by_role("heading", name="Ticket intents").wait_for()
    status = page.locator("#version-status-1")
    assert "checking" in status.inner_text()
    spec = Spec.objects.get(name="Ticket intents")
    run_check(spec.versions.get())
    # The pending badge polls every 2 s and stops once the check has decided.
    status.get_by_text("succeeded").wait_for(timeout=8_000)
    assert page.locator("#version-status-1[hx-trigger]").count() == 0
    assert page.get_by_role("cell", name="I was charged twice", exact=False).count() == 1
    assert "<b>No</b> real names." in page.locator(".spec-requirements").inner_text()
    page.screenshot(path="/tmp/specs-detail.png", full_page=True)

    page.get_by_role("link", name="Specs").first.click()
    row = page.locator("tr", has_text="Ticket intents")
    assert "v1" in row.inner_text() and "succeeded" in row.inner_text()
