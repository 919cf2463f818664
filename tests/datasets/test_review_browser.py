"""Keyboard-only review of a dataset's samples in headless Chromium."""

import pytest

from apps.core import services as core_services
from apps.datasets.models import DatasetVersion, Sample
from tests.datasets.helpers import add_version, classification

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

XSS = " <img src=x onerror=window.__xss=1>"


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def settle(page) -> None:
    """Wait until htmx has no request, swap or settle under way."""
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def _selected_id(page) -> int:
    return int(page.locator(".sample.selected").get_attribute("id").removeprefix("sample-"))


def test_review_30_samples_by_keyboard_only(live_server, page):
    user = core_services.user_create(username="kira", password="kira-pw-12345")
    project = core_services.project_create(name="Kira's lab", owner=user)
    payloads = [classification(i) for i in range(30)]
    payloads[0]["text"] += XSS
    add_version(project, "tickets", payloads)

    _login(page, live_server, "kira", "kira-pw-12345")
    page.get_by_role("link", name="Datasets").click()
    page.get_by_role("link", name="tickets").click()
    page.locator(".sample").nth(29).wait_for()
    assert "0 of 30 reviewed" in page.locator("#review-progress").inner_text()
    page.screenshot(path="/tmp/review-start.png", full_page=True)

    page.keyboard.press("?")
    assert page.locator("#shortcuts").get_attribute("open") is not None
    page.keyboard.press("?")

    # Every 4th sample is rejected, the others accepted; every 3rd (all "shipping") first
    # gets the label of key 1 ("account": the dataset's labels are sorted). a/r move on.
    page.keyboard.press("j")
    expected: dict[int, str] = {}
    relabelled: set[int] = set()
    for i in range(30):
        sample_id = _selected_id(page)
        if i % 3 == 1:
            page.keyboard.press("1")
            page.locator(f"#sample-{sample_id}.state-edited").wait_for()
            settle(page)
            relabelled.add(sample_id)
            assert _selected_id(page) == sample_id
        key = "r" if i % 4 == 0 else "a"
        page.keyboard.press(key)
        state = "rejected" if key == "r" else "accepted"
        page.locator(f"#sample-{sample_id}.state-{state}").wait_for()
        settle(page)
        expected[sample_id] = state
        if i == 10:
            page.screenshot(path="/tmp/review-middle.png", full_page=False)
    assert len(expected) == 30

    # u undoes the last action (the 30th sample's accept); k and r redo it as a reject.
    last = max(expected, key=lambda pk: -pk)  # the oldest sample is the last in the list
    page.keyboard.press("u")
    page.locator(f"#sample-{last}.state-unreviewed").wait_for()
    settle(page)
    assert _selected_id(page) == last
    page.keyboard.press("r")
    page.locator(f"#sample-{last}.state-rejected").wait_for()
    settle(page)
    expected[last] = "rejected"
    rejected = sum(s == "rejected" for s in expected.values())
    assert rejected == 9
    # The progress line follows each review without a reload.
    page.get_by_text("30 of 30 reviewed").wait_for()
    assert "21 accepted, 9 rejected" in page.locator("#review-progress").inner_text()
    page.screenshot(path="/tmp/review-done.png", full_page=True)

    states = dict(Sample.objects.values_list("id", "review_state"))
    assert states == expected
    labels = dict(Sample.objects.values_list("id", "payload__label"))
    assert {pk for pk, label in labels.items() if label == "account"} >= relabelled
    assert len(relabelled) == 10
    version = DatasetVersion.objects.get(dataset__name="tickets")
    assert (version.accepted_count, version.rejected_count, version.edited_count) == (21, 9, 0)
    assert set(Sample.objects.values_list("reviewed_by__username", flat=True)) == {"kira"}
    assert Sample.objects.filter(reviewed_at=None).count() == 0
    assert page.evaluate("window.__xss === undefined")

    # The table view: one line per sample, remembered on the next visit; the keys work there.
    page.get_by_role("link", name="Table").click()
    page.locator(".sample.compact").nth(29).wait_for()
    page.reload()
    page.locator(".sample.compact").nth(29).wait_for()
    page.keyboard.press("j")
    first = _selected_id(page)
    page.keyboard.press("u")  # nothing of this page to undo yet: nothing happens
    page.keyboard.press("a")
    page.locator(f"#sample-{first}.compact.state-accepted").wait_for()
    settle(page)
    page.locator(".sample.compact summary").nth(2).click()
    page.screenshot(path="/tmp/review-table.png", full_page=False)
    assert Sample.objects.get(pk=first).review_state == "accepted"
    # A review made with the mouse is undone by u as well.
    page.locator(f"#sample-{first}").get_by_role("button", name="Reject").click()
    page.locator(f"#sample-{first}.state-rejected").wait_for()
    settle(page)
    page.keyboard.press("u")
    page.locator(f"#sample-{first}.state-accepted").wait_for()
    settle(page)
    assert Sample.objects.get(pk=first).review_state == "accepted"
    assert page.evaluate("window.__xss === undefined")
