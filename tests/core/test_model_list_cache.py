"""The one model list cache (apps.core.llm.model_lists) and its rule: a list is fresh for a
minute; a failure is not cached as the answer: the last good list is served, with a log
line, and the provider is asked again once a short pause is over."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from apps.core.llm import model_ids, model_lists
from tests.core.test_llm_client import config_for, run
from tests.fakes.openai_server import MODELS, FakeOpenAI

pytestmark = pytest.mark.usefixtures("allow_loopback")


def listings(fake: FakeOpenAI) -> int:
    return sum(1 for r in fake.requests if r["path"].endswith("/models"))


def test_a_list_is_fresh_for_a_while_so_the_provider_is_asked_once(
    fake_openai: FakeOpenAI,
) -> None:
    config = config_for(fake_openai)

    assert run(model_ids(config, version="1")) == MODELS
    assert run(model_ids(config, version="1")) == MODELS
    assert listings(fake_openai) == 1
    # An edited provider (a new version) is asked afresh.
    assert run(model_ids(config, version="2")) == MODELS
    assert listings(fake_openai) == 2


def test_a_failure_serves_the_last_good_list_and_is_not_cached(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setattr(model_lists, "RETRY_SECONDS", 0.5)
    config = config_for(fake_openai)
    assert run(model_ids(config, fresh_seconds=0)) == MODELS  # 0: ask every time

    fake_openai.script(fail_status=503, error_rate=1.0)  # busy from now on
    with caplog.at_level(logging.INFO, logger="apps.core.llm.model_lists"):
        assert run(model_ids(config, fresh_seconds=0)) == MODELS  # the last good list
    assert listings(fake_openai) == 2
    assert "serving its last good list" in caplog.text and "HTTP 503" in caplog.text
    # Right after a failure the provider is left alone; the same list stands in.
    assert run(model_ids(config, fresh_seconds=0)) == MODELS
    assert listings(fake_openai) == 2

    # The failure was not cached: once the pause is over it is asked again, and what it
    # lists now is what callers get.
    time.sleep(0.6)
    fake_openai.reset()
    monkeypatch.setattr("tests.fakes.openai_server.MODELS", ["fake-gpt-2"])
    assert run(model_ids(config, fresh_seconds=0)) == ["fake-gpt-2"]
    assert listings(fake_openai) == 1


def test_a_provider_that_never_answered_is_taken_on_trust(
    fake_openai: FakeOpenAI, caplog: Any
) -> None:
    fake_openai.script(fail_status=404, error_rate=1.0)  # a server without /v1/models
    with caplog.at_level(logging.INFO, logger="apps.core.llm.model_lists"):
        assert run(model_ids(config_for(fake_openai))) is None
    assert "any model name is taken on trust" in caplog.text


def test_a_stalled_provider_costs_one_short_wait(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(stall=True)
    config = config_for(fake_openai)

    started = time.monotonic()
    assert run(model_ids(config)) is None
    assert model_lists.LISTING_TIMEOUT <= time.monotonic() - started < 4
    started = time.monotonic()
    assert run(model_ids(config)) is None
    assert time.monotonic() - started < 0.5 and listings(fake_openai) == 1
