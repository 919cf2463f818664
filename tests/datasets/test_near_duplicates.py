"""Near-duplicates within a dataset: MinHash + LSH bands in PostgreSQL, verified Jaccard."""

import random

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from apps.datasets import minhash, neardup, services
from apps.datasets.models import Dataset, Sample, SampleBand
from apps.datasets.neardup import near_duplicates_find
from tests.datasets.helpers import add_version
from tests.factories import MembershipFactory
from tests.queries import count_queries

pytestmark = pytest.mark.django_db

# 43 words.
TICKET = (
    "After the last update the export page stopped working for our team: when I choose the "
    "CSV format and press the download button, the spinner keeps turning for a minute and "
    "then the browser saves an empty file instead of the weekly report."
)
ONE_WORD_CHANGED = TICKET.replace("weekly", "monthly")
# The first half of TICKET, then other words.
HALF = " ".join(TICKET.split()[:20]) + (
    " so nobody can send the invoices and the accounting team rebuilds every total by hand "
    "from old spreadsheets."
)
UNRELATED = "My parcel is late and the courier never delivered the package to my address."
OTHERS = [
    "I was charged twice for my subscription this month and would like a refund.",
    "Please add a dark mode to the settings page, the white background hurts at night.",
    "The login page rejects my password since the reset email arrived yesterday.",
]


def dataset_with(owner, texts, name="tickets"):
    add_version(owner.project, name, [{"text": t, "label": "bug"} for t in texts])
    dataset = Dataset.objects.get(project=owner.project, name=name)
    ids = {s.text: s.pk for s in Sample.objects.filter(dataset=dataset)}
    return dataset, ids


def jaccard(a: str, b: str) -> float:
    first, second = minhash.shingle_sets([a, b])
    return minhash.jaccard(first, second)


def test_one_word_changed_in_forty_is_found_with_the_sample_it_repeats(owner):
    dataset, ids = dataset_with(owner, [*OTHERS, TICKET])
    assert len(TICKET.split()) == 43 and jaccard(TICKET, ONE_WORD_CHANGED) >= 0.9

    found = near_duplicates_find(dataset_id=dataset.pk, texts=[UNRELATED, ONE_WORD_CHANGED])

    assert list(found) == [1]
    match = found[1]
    assert match.sample_id == ids[TICKET] and match.batch_index is None
    assert match.similarity == pytest.approx(jaccard(TICKET, ONE_WORD_CHANGED))
    assert match.detail == f"near-duplicate of sample {ids[TICKET]} (92% alike)"


def test_unrelated_and_half_shared_texts_are_new(owner):
    dataset, _ = dataset_with(owner, [*OTHERS, TICKET])
    assert jaccard(TICKET, HALF) < 0.5
    found = near_duplicates_find(dataset_id=dataset.pk, texts=[UNRELATED, HALF])
    assert found == {}
    # Not even at a lower threshold: the half-shared text is far below 0.9.
    assert near_duplicates_find(dataset_id=dataset.pk, texts=[HALF], threshold=0.6) == {}


def test_exact_copies_and_copies_in_another_spelling_are_near_duplicates(owner):
    dataset, ids = dataset_with(owner, [TICKET])
    found = near_duplicates_find(
        dataset_id=dataset.pk, texts=[TICKET, TICKET.upper().replace(",", " ;")]
    )
    assert {i: (m.sample_id, m.similarity) for i, m in found.items()} == {
        0: (ids[TICKET], 1.0),
        1: (ids[TICKET], 1.0),
    }


def test_near_duplicates_within_one_batch_point_at_the_earlier_text(owner):
    dataset, _ = dataset_with(owner, OTHERS)
    texts = [TICKET, UNRELATED, ONE_WORD_CHANGED, TICKET.replace("minute", "second"), HALF]

    found = near_duplicates_find(dataset_id=dataset.pk, texts=texts)

    assert {i: (m.batch_index, m.sample_id) for i, m in found.items()} == {
        2: (0, None),
        3: (0, None),
    }
    assert found[2].detail == "near-duplicate of another sample in this batch (#0, 92% alike)"


def test_a_text_is_compared_with_the_texts_of_the_batch_that_are_kept(owner):
    # As if the texts were inserted one by one: the first nearly repeats the stored sample
    # and is not kept, so the second, close to the first but not to the stored sample, is new.
    dataset, ids = dataset_with(owner, [TICKET])
    second = ONE_WORD_CHANGED.replace("spinner", "wheel")
    assert jaccard(ONE_WORD_CHANGED, second) >= 0.9 > jaccard(TICKET, second)
    found = near_duplicates_find(dataset_id=dataset.pk, texts=[ONE_WORD_CHANGED, second])
    assert list(found) == [0] and found[0].sample_id == ids[TICKET]


def test_samples_of_other_datasets_never_match(owner):
    dataset_with(owner, [TICKET], name="first")
    other, _ = dataset_with(owner, OTHERS, name="second")
    elsewhere = MembershipFactory()
    dataset_with(elsewhere, [ONE_WORD_CHANGED], name="first")
    assert near_duplicates_find(dataset_id=other.pk, texts=[TICKET, ONE_WORD_CHANGED]) == {
        1: neardup.NearDuplicate(similarity=jaccard(TICKET, ONE_WORD_CHANGED), batch_index=0)
    }


def test_short_texts(owner):
    dataset, ids = dataset_with(owner, ["Refund my order", "ok", "Bug!"])
    found = near_duplicates_find(
        dataset_id=dataset.pk,
        texts=["refund my order!!", "Refund my orders", "Cancel my order", "OK.", "bugs"],
    )
    assert {i: m.sample_id for i, m in found.items()} == {
        0: ids["Refund my order"],
        1: ids["Refund my order"],
        3: ids["ok"],
    }


def test_empty_huge_and_odd_texts_do_not_crash(owner):
    huge = " ".join(f"word{i % 5000} {i}" for i in range(40_000))  # ~430 kB
    odd = [
        "",
        "   \n\t",
        "!!!",
        "🙂🙂🙂",
        "\u200b\u200d",
        "漢字のテキストです。機能リクエスト",
        "किताब पढ़ो",
        "e\u0301\u0301\u0301",
        "\U0010ffff" * 3,
        "x",
    ]
    dataset, ids = dataset_with(owner, [huge, "🙂🙂🙂", "漢字のテキストです。機能リクエスト"])
    found = near_duplicates_find(
        dataset_id=dataset.pk, texts=[*odd, huge + " more", "a\ud800b", *odd]
    )
    assert found[3].sample_id == ids["🙂🙂🙂"]
    assert found[5].sample_id == ids["漢字のテキストです。機能リクエスト"]
    assert found[len(odd)].sample_id == ids[huge]
    # Texts without words are nobody's near-copy, not even of each other.
    assert {0, 1, len(odd) + 2, len(odd) + 2 + 1} & set(found) == set()
    assert found[len(odd) + 2 + 2].batch_index == 2  # "!!!" again


def test_signatures_are_datasketch_minhashes():
    texts = [TICKET, "ab", "漢字のテキスト", " ".join(["w"] * 3000), "a\ud800b c"]
    computed = minhash.signatures(minhash.shingle_hashes(texts))
    for text, signature in zip(texts, computed, strict=True):
        assert np.array_equal(minhash.minhash(text).hashvalues, signature)
    assert minhash.text_bands(["", " !? "])[0] == []


def test_threshold_must_be_a_similarity(owner):
    dataset, _ = dataset_with(owner, [TICKET])
    for threshold in (0, -0.5, 1.01):
        with pytest.raises(ValueError, match="threshold"):
            near_duplicates_find(dataset_id=dataset.pk, texts=[TICKET], threshold=threshold)
    assert near_duplicates_find(dataset_id=dataset.pk, texts=[ONE_WORD_CHANGED], threshold=1) == {}


# --- bands in PostgreSQL ----------------------------------------------------------------


def test_every_inserted_sample_gets_its_bands_in_the_same_transaction(owner):
    dataset, ids = dataset_with(owner, [TICKET, *OTHERS, "!!!"])
    assert SampleBand.objects.filter(dataset=dataset).count() == 5 * minhash.BANDS
    for sample_id in ids.values():
        assert SampleBand.objects.filter(sample_id=sample_id).count() == minhash.BANDS

    # Rows skipped (an exact duplicate, twice in one batch, and one already stored) get no
    # bands, and the row kept gets its bands once.
    version = services.dataset_version_create(
        project=owner.project, name="tickets", task_type="classification", source="import"
    )
    texts = [TICKET.upper(), "New text about invoices.", "new  TEXT about invoices."]
    inserted = services.samples_insert(
        dataset_id=dataset.pk,
        version=version.number,
        run_id=None,
        samples=[
            services.NewSample(payload={"text": t}, text=t, text_hash=services.text_hash(t))
            for t in texts
        ],
    )
    assert len(inserted) == 1
    assert SampleBand.objects.filter(dataset=dataset).count() == 6 * minhash.BANDS
    new = Sample.objects.get(dataset=dataset, text="New text about invoices.")
    assert SampleBand.objects.filter(sample=new).count() == minhash.BANDS


def test_the_run_engine_s_call_computes_the_bands_once(owner):
    # At commit: find the near-copies of the texts, insert the others with the bands
    # already computed for the lookup.
    dataset, ids = dataset_with(owner, [TICKET])
    version = services.dataset_version_create(
        project=owner.project, name="tickets", task_type="classification", source="run"
    )
    texts = [ONE_WORD_CHANGED, *OTHERS, "?!"]
    batch = minhash.Shingled(texts)
    found = near_duplicates_find(dataset_id=dataset.pk, texts=batch)
    assert list(found) == [0]
    kept = [i for i in range(len(texts)) if i not in found]
    services.samples_insert(
        dataset_id=dataset.pk,
        version=version.number,
        run_id=None,
        samples=[
            services.NewSample(
                payload={"text": texts[i], "label": "bug"},
                text=texts[i],
                text_hash=services.text_hash(texts[i]),
                bands=batch.bands[i],
            )
            for i in kept
        ],
    )
    stored = Sample.objects.filter(dataset=dataset).exclude(pk=ids[TICKET])
    assert stored.count() == 4
    for sample in stored:
        keys = set(SampleBand.objects.filter(sample=sample).values_list("band", flat=True))
        assert keys == set(minhash.text_bands([sample.text])[0])
    # "?!" has no words but is banded by its symbols, like a text of emoji.
    assert SampleBand.objects.filter(dataset=dataset).count() == 5 * minhash.BANDS


def test_bands_go_with_their_sample_and_their_dataset(owner):
    dataset, ids = dataset_with(owner, [TICKET, *OTHERS])
    other, _ = dataset_with(owner, OTHERS, name="other")
    Sample.objects.get(pk=ids[TICKET]).delete()
    assert not SampleBand.objects.filter(sample_id=ids[TICKET]).exists()
    assert near_duplicates_find(dataset_id=dataset.pk, texts=[TICKET]) == {}
    assert SampleBand.objects.filter(dataset=dataset).count() == 3 * minhash.BANDS

    Dataset.objects.filter(pk=dataset.pk).delete()
    assert not SampleBand.objects.filter(dataset_id=dataset.pk).exists()
    assert SampleBand.objects.filter(dataset=other).count() == 3 * minhash.BANDS


def test_an_edited_sample_is_found_by_its_new_text(owner):
    dataset, ids = dataset_with(owner, [TICKET, *OTHERS])
    sample = Sample.objects.get(pk=ids[OTHERS[0]])
    services.sample_edit(membership=owner, sample=sample, payload={"text": HALF, "label": "bug"})
    found = near_duplicates_find(dataset_id=dataset.pk, texts=[OTHERS[0], HALF + " Thanks"])
    assert {i: m.sample_id for i, m in found.items()} == {1: sample.pk}
    assert SampleBand.objects.filter(sample=sample).count() == minhash.BANDS


def distinct_texts(count: int, words: int = 40) -> list[str]:
    """Texts of random words, far from each other (seeded: the same on every run)."""
    rng = random.Random(7)
    vocabulary = sorted(set(" ".join([TICKET, HALF, UNRELATED, *OTHERS]).lower().split()))
    return [" ".join(rng.choice(vocabulary) for _ in range(words)) for _ in range(count)]


def one_word_changed(text: str) -> str:
    words = text.split()
    words[len(words) // 2] = "zebra"
    return " ".join(words)


def test_query_count_does_not_grow_with_the_batch(owner):
    stored = distinct_texts(200)
    dataset, ids = dataset_with(owner, stored)

    def queries(texts):
        with transaction.atomic(), count_queries() as log:
            found = near_duplicates_find(dataset_id=dataset.pk, texts=texts)
        return len(log), found

    texts = [one_word_changed(t) for t in stored]
    few, found_few = queries(texts[:10])
    many, found_many = queries(texts)
    assert few == many == 3  # the lock, the bands, the candidates' texts
    # Those whose true similarity reaches 0.9 (most: a long word replaced in a text of
    # short ones changes more shingles) are found with their own original; LSH misses a
    # pair right at 0.9 with probability 0.006, so one or two of ~200 may be missed.
    expected = {i: ids[stored[i]] for i, t in enumerate(texts) if jaccard(stored[i], t) >= 0.9}
    assert len(expected) > 150
    reported = {i: m.sample_id for i, m in found_many.items()}
    assert reported.items() <= expected.items()
    assert len(reported) >= len(expected) - 2
    assert {i: m.sample_id for i, m in found_few.items()} == {
        i: reported[i] for i in reported if i < 10
    }


def test_templated_texts_are_alike_but_not_near_duplicates(owner):
    # What a small model writes: one template, a number changed. Pairs are ~0.7 alike, so
    # they share band keys; what is verified stays bounded, and none is reported.
    stored = [f"Ticket number {n} about billing." for n in range(300)]
    dataset, ids = dataset_with(owner, stored)
    new = [f"Ticket number {n} about billing." for n in range(1000, 1200)]
    copy = "ticket number 150 about billing!"
    assert max(jaccard(new[0], t) for t in stored) < 0.9
    with transaction.atomic(), count_queries() as log:
        found = near_duplicates_find(dataset_id=dataset.pk, texts=[*new, copy])
    assert len(log) == 3
    assert found == {200: neardup.NearDuplicate(similarity=1.0, sample_id=ids[stored[150]])}
    assert len(neardup._existing_candidates(dataset.pk, minhash.text_bands(new))[0]) <= (
        neardup.MAX_VERIFIED
    )


@pytest.mark.django_db(transaction=True)
def test_the_dataset_stays_locked_until_the_transaction_ends(owner):
    dataset, _ = dataset_with(owner, [TICKET])

    def held() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = %s AND objid = %s AND pid = pg_backend_pid()",
                [neardup.LOCK_CLASS, dataset.pk],
            )
            return cursor.fetchone()[0] == 1

    with transaction.atomic():
        near_duplicates_find(dataset_id=dataset.pk, texts=[UNRELATED])
        assert held()
    assert not held()


def test_backfill_command_bands_samples_that_have_none(owner, capsys):
    dataset, ids = dataset_with(owner, [TICKET, *OTHERS])
    dataset_with(MembershipFactory(), OTHERS, name="elsewhere")
    SampleBand.objects.filter(dataset=dataset).exclude(sample_id=ids[OTHERS[0]]).delete()
    assert near_duplicates_find(dataset_id=dataset.pk, texts=[ONE_WORD_CHANGED]) == {}

    call_command("seedbed_near_duplicate_bands", dataset=[dataset.pk], batch_size=2)
    assert (
        f"(id {dataset.pk}): 3 samples banded ({3 * minhash.BANDS} bands)"
        in capsys.readouterr().out
    )
    assert SampleBand.objects.filter(dataset=dataset).count() == 4 * minhash.BANDS
    found = near_duplicates_find(dataset_id=dataset.pk, texts=[ONE_WORD_CHANGED])
    assert found[0].sample_id == ids[TICKET]

    call_command("seedbed_near_duplicate_bands")  # every dataset; nothing left to do here
    out = capsys.readouterr().out
    assert f"(id {dataset.pk}): 0 samples banded" in out and "elsewhere" in out
    call_command("seedbed_near_duplicate_bands", dataset=[dataset.pk], rebuild=True)
    assert f"4 samples banded ({4 * minhash.BANDS} bands)" in capsys.readouterr().out
    assert SampleBand.objects.filter(dataset=dataset).count() == 4 * minhash.BANDS
