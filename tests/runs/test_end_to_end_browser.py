"""A person's whole path in headless Chromium, on a real Celery worker: spec → run →
live progress → dataset → review → export."""

import json
import re
from pathlib import Path

import pytest

from apps.datasets.models import Sample
from tests.runs import responders
from tests.runs.browser_flows import create_the_example_spec, sign_in_with_a_fake_provider

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("allow_loopback"),
]


def test_spec_to_run_to_reviewed_exported_dataset(
    live_server, page, celery_processes, fake_openai, tmp_path: Path
):
    celery_processes.start_worker()
    sign_in_with_a_fake_provider(page, live_server, fake_openai, "fay")

    # A spec from the example; the worker checks it.
    labels = create_the_example_spec(page)
    fake_openai.responder = responders.classification(labels)
    fake_openai.script(latency=0.5)

    # A run of 200 samples against the fake provider.
    page.get_by_role("link", name="Generate data →").click()
    page.select_option("select[name=provider]", label="fake (openai)")
    page.fill("input[name=num_samples]", "200")
    page.fill("input[name=dataset_name]", "tickets")
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("heading", name=re.compile(r"Run #\d+")).wait_for()

    # The live fragment shows progress before the end, then the end.
    counter = page.locator("#accepted-count")
    page.wait_for_function(
        "() => { const n = +document.querySelector('#accepted-count').textContent;"
        " return n > 0 && n < 200; }",
        timeout=60_000,
    )
    seen_midway = int(counter.inner_text())
    page.get_by_text("Succeeded", exact=True).wait_for(timeout=60_000)
    assert 0 < seen_midway < 200
    assert counter.inner_text() == "200"
    assert page.locator("#live-status[hx-trigger]").count() == 0  # polling stopped
    page.screenshot(path="/tmp/e2e-run-finished.png", full_page=True)

    # Browse the dataset and reject a sample with one click.
    page.get_by_title("This run's samples").click()  # the dataset, as far as this run went
    page.locator(".sample").first.wait_for()
    newest = Sample.objects.filter(dataset__name="tickets").order_by("-id")[0]
    page.locator(f"#sample-{newest.pk}").get_by_role("button", name="Reject").click()
    page.locator(f"#sample-{newest.pk} .review-badge.rejected").wait_for()
    newest.refresh_from_db()
    assert newest.review_state == "rejected"

    # Export JSONL: the 200 samples but the rejected one (the page leaves it out).
    with page.expect_download() as download_info:
        page.get_by_role("button", name="JSONL").click()
    target = tmp_path / "export.jsonl"
    download_info.value.save_as(target)
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 199
    assert {line["label"] for line in lines} <= set(labels)
    assert newest.pk not in {line["sample_id"] for line in lines}
    page.screenshot(path="/tmp/e2e-dataset.png", full_page=True)
