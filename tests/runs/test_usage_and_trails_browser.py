"""In headless Chromium: a run page with usage per stage (live while it runs) and rejected
candidates' trails, then a sample's trail page; model-written script never runs."""

import pytest

from apps.core import services as core_services
from apps.core.models import ModelPrice
from apps.datasets.models import Sample
from apps.runs.engines.context import USAGE_KEYS
from apps.runs.engines.usage import usage_merge
from apps.runs.models import RejectedSample, Run, RunStatus
from tests.datasets.helpers import add_version, classification, make_run
from tests.runs.trails import EVIL, full_trail, run_lineage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _usage(run: Run) -> dict:
    counts = {}
    for stage, (calls, inp, out, latency) in {
        "outline": (2, 800, 1200, 1500),
        "draft": (4, 3000, 1500, 2000),
        "judge": (2, 2000, 500, 900),
        "revision": (1, 700, 300, 400),
    }.items():
        row = dict.fromkeys(USAGE_KEYS, 0)
        row.update(calls=calls, input_tokens=inp, output_tokens=out, latency_ms=latency)
        counts[(stage, run.provider_id or 0, run.model)] = row
    return usage_merge({}, counts)


def test_run_usage_and_trails_in_the_browser(live_server, page):
    user = core_services.user_create(username="gus", password="gus-pw-12345")
    project = core_services.project_create(name="Gus's lab", owner=user)
    dataset = add_version(project, "tickets", [classification(0)]).dataset
    run = make_run(project, dataset, number=2, status=RunStatus.RUNNING)
    add_version(project, "tickets", [classification(i) for i in range(1, 13)], run=run)
    Run.objects.filter(pk=run.pk).update(
        provider=project.providers.get(name="embedded"), model="test-model"
    )
    run.refresh_from_db()
    sample = Sample.objects.filter(run=run).order_by("id").first()
    assert sample is not None
    Sample.objects.filter(pk=sample.pk).update(
        lineage=run_lineage(run, original={"text": "seed", "label": "billing"})
    )
    Run.objects.filter(pk=run.pk).update(
        usage_by_stage=_usage(run),
        accepted=12,
        rejected=2,
        rejected_by_reason={"conformance": 1, "not_judged": 1},
    )
    for reason in ("conformance", "not_judged"):
        RejectedSample.objects.create(
            run=run,
            reason=reason,
            detail=f"judge: requirements {EVIL}",
            payload={"text": f"a draft {EVIL}", "label": "billing"},
            lineage={"run_id": run.pk, "call": 1, "trail": full_trail()},
        )

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "gus")
    page.fill("input[name=password]", "gus-pw-12345")
    page.click("button[type=submit]")

    # While the run runs, its usage is unpriced; a price set meanwhile shows on the next
    # poll of the live fragment.
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    table = page.locator(".usage-table")
    assert table.locator("tbody tr").count() == 4
    assert table.get_by_text("no price set").count() == 4
    assert run.provider is not None
    ModelPrice.objects.create(
        provider=run.provider, model=run.model, input_per_million=2, output_per_million=10
    )
    Run.objects.filter(pk=run.pk).update(usage_by_stage=_usage(run), status=RunStatus.SUCCEEDED)
    # outline 0.0136 + draft 0.021 + judge 0.009 + revision 0.0044 = 0.048; ÷ 12 = 0.004.
    page.locator("#cost-per-accepted").wait_for(timeout=10_000)
    assert page.locator("#cost-per-accepted").inner_text() == "$0.004"
    assert page.locator(".usage-total").inner_text().split()[-1] == "$0.048"
    assert page.locator("#live-status[hx-trigger]").count() == 0  # finished: polling stopped
    assert page.locator(".usage-chart rect").count() == 8

    # A rejected candidate's trail, opened.
    page.locator("summary", has_text="Breaks a requirement").click()
    page.locator("details[open] > .reject-trail > summary").click()
    trail = page.locator(".reject-trail[open] .trail")
    trail.get_by_text(f"too long {EVIL}").wait_for()
    assert trail.locator(".verdict-chip.fail").count() == 1
    assert trail.locator("script").count() == 0
    page.locator("#run-usage").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/seedbed-run-usage-trails.png", full_page=True)

    # From the dataset's row to the sample's trail page.
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/?version=2")
    row = page.locator(f"#sample-{sample.pk}")
    row.screenshot(path="/tmp/seedbed-dataset-row-trail-link.png")
    row.get_by_role("link", name="Trail").click()
    page.get_by_role("heading", name=f"sample #{sample.pk}").wait_for()
    steps = page.locator(".trail-steps > li")
    assert steps.count() == 7
    assert page.locator(".trail-outline").get_by_text(f"A customer double-charged {EVIL}").count()
    assert page.locator(".verdict-chip.pass").count() == 1
    page.get_by_text("Thinking").nth(1).click()  # the draft's thinking, collapsed until then
    page.get_by_text(f"Secret reasoning {EVIL}").wait_for()
    page.screenshot(path="/tmp/seedbed-sample-trail.png", full_page=True)
    assert page.evaluate("document.querySelectorAll('.trail script').length") == 0
    assert dialogs == []
