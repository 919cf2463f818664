"""In headless Chromium, without a worker (the run's row is moved by hand): what the run
page's live fragment keeps and clears as it polls."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.runs.models import RejectedSample, Run, RunStatus
from apps.specs.models import Spec
from tests.runs.browser_flows import sign_in_with_a_fake_provider
from tests.specs.helpers import run_check

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("allow_loopback"),
]

COUNT_SWAPS = """() => {
  window.__swaps = 0;
  document.addEventListener("htmx:afterSettle", () => { window.__swaps += 1; });
}"""


def test_an_open_group_stays_open_through_polls_and_the_queued_message_goes_at_the_end(
    live_server, page, fake_openai
):
    sign_in_with_a_fake_provider(page, live_server, fake_openai, "lena")
    page.get_by_role("link", name="Specs").click()
    page.get_by_role("button", name="Start from an example").click()
    page.get_by_role("button", name="Create spec").click()
    run_check(Spec.objects.get().versions.get())  # as a worker would
    page.get_by_text("succeeded").wait_for(timeout=10_000)
    page.get_by_role("link", name="Generate data →").click()
    page.select_option("select[name=provider]", label="fake (openai)")
    page.fill("input[name=num_samples]", "10")
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("heading", name=re.compile(r"Run #\d+")).wait_for()
    assert re.fullmatch(r"Run \d+ queued\.", page.locator(".messages").inner_text().strip())

    run = Run.objects.get()
    RejectedSample.objects.create(
        run=run, reason="unknown_label", detail="label 'x'", payload={"text": "t", "label": "x"}
    )
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=5),
        rejected=1,
        rejected_by_reason={"unknown_label": 1},
    )
    group = page.locator('details[data-keep-open="reject-unknown_label"]')
    group.wait_for(timeout=10_000)
    page.evaluate(COUNT_SWAPS)
    group.locator(":scope > summary").click()
    trail = group.locator("details.reject-trail")
    trail.locator(":scope > summary").click()
    page.wait_for_function("() => window.__swaps >= 2", timeout=10_000)  # two polls later
    assert group.evaluate("details => details.open")
    assert trail.evaluate("details => details.open")
    assert page.locator(".messages").count() == 1  # still running: the message stays

    Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED, finished_at=timezone.now())
    page.locator("[data-clears-messages]").wait_for(timeout=10_000)
    page.wait_for_function("() => !document.querySelector('.messages')", timeout=5_000)
    assert group.evaluate("details => details.open")
    assert "took" in page.locator(".run-times").inner_text()
