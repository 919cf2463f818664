"""The history writer: ids known before the row is written, rows written once."""

from __future__ import annotations

import asyncio

import pytest

from apps.inference.models import Inference
from apps.inference.recording import Recorder, inference_record
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)


def row(project_id: int, **fields: object) -> dict[str, object]:
    return {
        "project_id": project_id,
        "model_id": "fake/fake-gpt",
        "protocol": "openai",
        "task": "chat",
        "request": {"messages": []},
        "output_text": "hi",
        **fields,
    }


def test_recorder_writes_every_row_once_with_the_ids_it_gave():
    project = MembershipFactory().project

    async def calls() -> list[int]:
        recorder = Recorder()
        ids = []
        for batch in range(5):
            futures = [recorder.reserve_id() for _ in range(40)]
            batch_ids = list(await asyncio.gather(*futures))
            for n, new_id in enumerate(batch_ids):
                recorder.submit(row(project.pk, id=new_id, output={"n": batch * 40 + n}))
            ids += batch_ids
        # A row of a key deleted meanwhile is still written, without the key.
        recorder.submit(row(project.pk, id=await recorder.reserve_id(), api_key_id=999_999))
        await recorder.aclose()
        return ids

    ids = asyncio.run(calls())
    assert len(set(ids)) == 200
    rows = Inference.objects.filter(project=project)
    assert rows.count() == 201
    assert set(rows.values_list("pk", flat=True)) >= set(ids)
    numbers = rows.filter(output__isnull=False).values_list("output__n", flat=True)
    assert sorted(numbers) == list(range(200))
    assert rows.get(output__isnull=True).output_text == "hi"


def test_ids_follow_the_order_calls_started():
    project = MembershipFactory().project

    async def calls() -> list[int]:
        recorder = Recorder()
        first = await recorder.reserve_id()
        await asyncio.sleep(0.1)  # longer than a fetched id may wait
        second = await recorder.reserve_id()
        await recorder.aclose()
        return [first, second]

    first, second = asyncio.run(calls())
    assert first < second
    assert not Inference.objects.filter(project=project).exists()


def test_inference_record_writes_at_once(owner):
    inference = inference_record(
        project=owner.project,
        model_id="embedded/smollm2-135m-instruct",
        protocol="native",
        task="label_ner",
        request={"text": "x"},
        input_text="x",
        output={"text": "x", "entities": []},
    )
    assert Inference.objects.get(pk=inference.pk).task == "label_ner"
