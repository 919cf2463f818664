"""The dataset page in headless Chromium: review with a click, export, edit inline."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.core import services as core_services
from apps.datasets.models import Dataset, Sample
from tests.datasets.helpers import add_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TICKETS = [
    ("I was charged twice for order #4411, please refund the second payment.", "billing"),
    ("The courier left my parcel at the wrong address in Leeds.", "shipping"),
    ("Since Tuesday my router keeps dropping the wifi connection.", "technical"),
    ("I cannot log in since the password reset email never arrived.", "account"),
    ("Great support on Friday, thanks! <img src=x onerror=window.__xss=1>", "feedback"),
    ("Please cancel order #5120 before it ships.", "cancellation"),
]
NEWS = [
    (
        "Angela Merkel met Emmanuel Macron in Paris on Monday to discuss Airbus orders.",
        [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Paris", "LOC"), ("Airbus", "ORG")],
    ),
    (
        "Shares of Toyota rose in Tokyo after the company raised its forecast.",
        [("Toyota", "ORG"), ("Tokyo", "LOC")],
    ),
    (
        "Serena Williams will open the new Nike store on Fifth Avenue in New York.",
        [("Serena Williams", "PER"), ("Nike", "ORG"), ("Fifth Avenue", "LOC"), ("New York", "LOC")],
    ),
]


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _export_jsonl(page, tmp_path) -> tuple[str, list[dict]]:
    """Press the JSONL export button: the downloaded file's name and its lines."""
    with page.expect_download() as download_info:
        page.get_by_role("button", name="JSONL").click()
    download = download_info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, [json.loads(x) for x in target.read_text().splitlines()]


def test_review_export_and_edit_in_the_browser(live_server, page, tmp_path: Path):
    user = core_services.user_create(username="erin", password="erin-pw-12345")
    project = core_services.project_create(name="Erin's lab", owner=user)
    add_version(project, "support tickets", [{"text": t, "label": x} for t, x in TICKETS[:4]])
    add_version(project, "support tickets", [{"text": t, "label": x} for t, x in TICKETS[4:]])
    news = [
        {"text": text, "entities": [{"text": e, "label": label} for e, label in entities]}
        for text, entities in NEWS
    ]
    add_version(project, "news entities", news, task_type="ner")

    _login(page, live_server, "erin", "erin-pw-12345")
    page.get_by_role("link", name="Datasets").click()
    page.screenshot(path="/tmp/datasets-list.png", full_page=True)
    page.get_by_role("link", name="support tickets").click()
    page.locator(".sample").first.wait_for()
    assert page.locator(".sample").count() == 6
    page.screenshot(path="/tmp/datasets-classification.png", full_page=True)

    # Reject the newest sample with one click: the row is swapped in place by htmx.
    newest = Sample.objects.filter(dataset__name="support tickets").order_by("-id")[0]
    row = page.locator(f"#sample-{newest.pk}")
    row.get_by_role("button", name="Reject").click()
    page.locator(f"#sample-{newest.pk} .review-badge.rejected").wait_for()
    newest.refresh_from_db()
    assert newest.review_state == "rejected"
    assert page.evaluate("window.__xss === undefined")  # the <img onerror> never ran

    # Filter by label through htmx: the URL follows.
    page.select_option("select[name=label]", "shipping")
    page.wait_for_url("**label=shipping**")
    page.locator(".sample").first.wait_for()
    assert page.locator(".sample").count() == 1

    # Export JSONL: the version without the rejected sample, as the ticked box says...
    name, lines = _export_jsonl(page, tmp_path)
    assert name == "support-tickets-v2-without-rejected.jsonl"
    assert [line["text"] for line in lines] == [t for t, _ in TICKETS][:-1]
    # ...and every sample of the version once the box is unticked.
    page.get_by_label("Leave out rejected samples").uncheck()
    name, lines = _export_jsonl(page, tmp_path)
    assert name == "support-tickets-v2.jsonl"
    assert [line["text"] for line in lines] == [t for t, _ in TICKETS]
    assert lines[-1]["review_state"] == "rejected"

    # NER: entities highlighted; a bad edit shows the problem inline and keeps the text.
    page.goto(f"{live_server.url}/datasets/{Dataset.objects.get(name='news entities').pk}/")
    page.locator("mark[data-label=PER]").first.wait_for()
    assert page.locator("mark[data-label=LOC]").count() == 4
    page.screenshot(path="/tmp/datasets-ner.png", full_page=True)

    sample = Sample.objects.filter(dataset__name="news entities").order_by("-id")[0]
    row = page.locator(f"#sample-{sample.pk}")
    row.get_by_role("button", name="Edit").click()
    editor = page.locator(f"#sample-{sample.pk} textarea")
    editor.wait_for()
    payload = json.loads(editor.input_value())
    payload["entities"][0]["text"] = "Serena Willams"
    editor.fill(json.dumps(payload, indent=2))
    page.locator(f"#sample-{sample.pk}").get_by_role("button", name="Save").click()
    error = page.locator(f"#sample-{sample.pk} .edit-error")
    error.wait_for()
    assert "'Serena Willams' is not in the text" in error.inner_text()
    assert "Serena Willams" in page.locator(f"#sample-{sample.pk} textarea").input_value()
    page.screenshot(path="/tmp/datasets-edit-error.png", full_page=True)
    sample.refresh_from_db()
    assert sample.payload["entities"][0]["text"] == "Serena Williams"


def test_a_search_is_one_history_entry_and_back_shows_its_own_search(live_server, page):
    user = core_services.user_create(username="finn", password="finn-pw-12345")
    project = core_services.project_create(name="Finn's lab", owner=user)
    add_version(project, "support tickets", [{"text": t, "label": x} for t, x in TICKETS])
    dataset = Dataset.objects.get(name="support tickets")
    _login(page, live_server, "finn", "finn-pw-12345")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
    page.locator(".sample").first.wait_for()
    entries = page.evaluate("history.length")

    page.fill("#q", "parcel")
    page.wait_for_url("**q=parcel**")
    page.locator("#q").press("Enter")  # the same search again: no second entry
    page.wait_for_timeout(600)
    page.fill("#q", "order")
    page.wait_for_url("**q=order**")
    page.wait_for_timeout(600)
    assert page.evaluate("history.length") == entries + 2
    assert page.locator(".sample").count() == 2

    page.go_back()  # the page comes back from the server, its search in the box
    page.wait_for_url("**q=parcel**")
    expect(page.locator("#q")).to_have_value("parcel")
    expect(page.locator(".sample")).to_have_count(1)
