"""The generate rate limit (apps/core/throttle.py) is one budget per user for Pioneer's
`/generate` and the label-existing endpoints: each answers 429 with Retry-After."""

import pytest

from tests.inference.labelling.helpers import NER_URL, post_json

pytestmark = pytest.mark.django_db


def test_generate_and_label_existing_share_one_limit(api, provider, fake_extract, monkeypatch):
    monkeypatch.setattr("apps.core.throttle.GENERATE_PER_MINUTE", 2)
    body = {"labels": ["city"], "texts": ["Paris"], "model_id": "fake/fake-gpt"}
    # Counted before any input check: a refused body uses up a request too.
    assert post_json(api, "/generate", {}).status_code == 400
    assert post_json(api, NER_URL, body).status_code == 200
    for url in (NER_URL, "/generate"):
        limited = post_json(api, url, body)
        assert limited.status_code == 429, url
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert "2 generate requests per minute" in limited.json()["detail"]
