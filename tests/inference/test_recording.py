"""The history writer: ids known before the row is written, rows written once."""

from __future__ import annotations

import asyncio

import pytest

from apps.inference.gateway.writer import allocate_ids, write_rows
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


POISON: dict[str, dict[str, object]] = {
    "NUL in text": {"output_text": "a\x00b"},
    "NUL in JSON": {"request": {"messages": [{"role": "user", "content": "a\x00b"}]}},
    "NaN in JSON": {"output": {"score": float("nan")}},
    "lone surrogate": {"input_text": "a\ud800b"},
}


def test_rows_postgresql_refuses_are_handed_back_and_the_others_written():
    project = MembershipFactory().project
    ids = allocate_ids(100)
    rows = [row(project.pk, id=i, output={"n": n}) for n, i in enumerate(ids)]
    for position, fields in zip((3, 40, 41, 99), POISON.values(), strict=True):
        rows[position].update(fields)
    refused = write_rows(rows)
    assert sorted(r["id"] for r, _ in refused) == [ids[3], ids[40], ids[41], ids[99]]
    written = Inference.objects.filter(project=project)
    assert written.count() == 96
    assert set(written.values_list("pk", flat=True)) == set(ids) - {r["id"] for r, _ in refused}


def test_a_refused_row_never_holds_up_the_queue(caplog):
    project = MembershipFactory().project

    async def calls() -> Recorder:
        recorder = Recorder()
        for n in range(101):
            fields = POISON["NUL in JSON"] if n == 50 else {"output": {"n": n}}
            recorder.submit(row(project.pk, id=await recorder.reserve_id(), **fields))
        await recorder.flush()
        for n in range(101, 111):  # later rows are written too
            recorder.submit(row(project.pk, id=await recorder.reserve_id(), output={"n": n}))
        await recorder.aclose()
        return recorder

    recorder = asyncio.run(calls())
    assert recorder.dropped == 1 and recorder.pending() == 0
    numbers = Inference.objects.filter(project=project).values_list("output__n", flat=True)
    assert sorted(numbers) == [n for n in range(111) if n != 50]
    assert "dropped, PostgreSQL refused it (DataError" in caplog.text


def test_closing_while_the_database_is_down_gives_up_after_a_bounded_number_of_tries(
    monkeypatch,
):
    """Shutdown cannot hang on an unreachable database: a few retries, then the rows are
    left for the last synchronous attempt at exit, and the error is raised."""
    from django.db import OperationalError

    from apps.inference import recording

    tries = []

    def unreachable(rows, *, retry=False):
        tries.append(len(rows))
        raise OperationalError("connection refused")

    monkeypatch.setattr(recording, "write_rows", unreachable)
    monkeypatch.setattr(recording, "RETRY_DELAYS", (0.0, 0.0, 0.0))
    project = MembershipFactory().project

    async def close() -> Recorder:
        recorder = Recorder()
        recorder.submit(row(project.pk, id=1))
        with pytest.raises(OperationalError):
            await recorder.aclose()
        return recorder

    recorder = asyncio.run(close())
    assert tries == [1, 1, 1, 1]  # the first write and three retries
    assert recorder.pending() == 1  # kept for the write at interpreter exit
    recorder._rows.clear()  # that exit write is not this test's
