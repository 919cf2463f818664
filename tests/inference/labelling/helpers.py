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


def step(job: LabellingJob | int, step: int | None = None):
    """Run one step of a labelling job in this process (what a worker does); its outcome
    (None when the step was not this delivery's to run)."""
    from apps.core.jobs import job_step

    pk = job if isinstance(job, int) else job.pk
    if step is None:
        step = LabellingJob.objects.values_list("steps_done", flat=True).get(pk=pk)
    return job_step(kind_name="labelling", pk=pk, step=step)


def drive(job: LabellingJob | int, max_steps: int = 50) -> LabellingJob:
    """Run steps in this process until the job ends."""
    pk = job if isinstance(job, int) else job.pk
    for _ in range(max_steps):
        if LabellingJob.objects.get(pk=pk).is_finished:
            break
        step(pk)
    return LabellingJob.objects.get(pk=pk)
