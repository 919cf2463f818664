"""In headless Chromium, on a real Celery worker: a run with outlines, two revision cycles
and both gates, started from the form and watched live, then one sample's trail."""

import re

import pytest

from apps.datasets.models import Sample
from tests.runs.browser_flows import create_the_example_spec, sign_in_with_a_fake_provider
from tests.runs.pipeline_model import PipelineModel

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("allow_loopback"),
]


def test_a_quality_run_watched_live_then_a_samples_trail(
    live_server, page, celery_processes, fake_openai
):
    celery_processes.start_worker()
    sign_in_with_a_fake_provider(page, live_server, fake_openai, "quinn", max_concurrency=8)
    labels = create_the_example_spec(page)
    model = PipelineModel(labels, plant_rate=0.2, judge_fail_rate=0.3, kinds=("wrong_label",))
    fake_openai.responder = model
    fake_openai.script(latency=0.3)

    page.get_by_role("link", name="Generate data →").click()
    page.select_option("select[name=provider]", label="fake (openai)")
    page.fill("input[name=num_samples]", "40")
    page.fill("input[name=dataset_name]", "judged")
    page.get_by_text("Quality: outline, revisions, filters, tools").click()
    page.uncheck("input[name=skip_outline]")
    page.check("input[name=revision_types][value=conformance]")
    page.check("input[name=revision_types][value=coherence_flow]")
    page.fill("input[name=max_revision_cycles]", "2")
    page.check("input[name=filtering_types][value=structural]")
    page.check("input[name=filtering_types][value=conformance]")
    page.screenshot(path="/tmp/quality-form.png", full_page=True)
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("heading", name=re.compile(r"Run #\d+")).wait_for()
    assert re.fullmatch(r"Run \d+ queued\.", page.locator(".messages").inner_text().strip())

    # Live: samples and the judge's work appear before the end.
    page.wait_for_function(
        "() => { const n = +document.querySelector('#accepted-count').textContent;"
        " return n > 0 && n < 40; }",
        timeout=90_000,
    )
    page.get_by_text("judge", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path="/tmp/quality-run-live.png", full_page=True)
    page.get_by_text("Succeeded", exact=True).wait_for(timeout=120_000)
    assert page.locator("#accepted-count").inner_text() == "40"
    assert page.locator(".messages").count() == 0  # "Run N queued." is gone once it ended
    assert page.locator(".chart-axis span").first.inner_text() == "0 s"
    page.screenshot(path="/tmp/quality-run-finished.png", full_page=True)
    assert not any(text in model.planted for text in Sample.objects.values_list("text", flat=True))

    # One sample's trail: outline, draft, the judge (and any revision), in order.
    revised = next(
        (
            s
            for s in Sample.objects.all()
            if any(t["step"] == "revision" for t in s.lineage["trail"])
        ),
        Sample.objects.first(),
    )
    page.goto(f"{live_server.url}/datasets/samples/{revised.pk}/lineage/")
    body = page.locator("main").inner_text()
    for step in ("Outline", "Draft", "Judge"):
        assert step.lower() in body.lower()
    page.screenshot(path="/tmp/quality-trail.png", full_page=True)
