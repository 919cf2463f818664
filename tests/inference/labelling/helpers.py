"""Shared steps of the labelling tests."""

import json
from typing import Any

from rest_framework.test import APIClient

from apps.inference import labelling_jobs
from apps.inference.models import LabellingJob

KNOWN = {"Ada": "person", "Grace": "person", "Paris": "city", "Berlin": "city", "Acme": "org"}
NER_URL = "/generate/ner/label-existing"
CLS_URL = "/generate/classification/label-existing"


def post_json(api: APIClient, url: str, body: dict[str, Any]):
    return api.post(url, data=json.dumps(body), content_type="application/json")


def new_job(owner, texts: list[str], **kwargs: Any) -> LabellingJob:
    params = {
        "task": "ner",
        "labels": ["person", "city"],
        "dataset_name": "people",
        "model_id": "fake/fake-gpt",
        **kwargs,
    }
    return labelling_jobs.labelling_job_create(
        membership=owner,
        texts=texts,
        lines=list(range(1, len(texts) + 1)),
        user=owner.user,
        **params,
    )
