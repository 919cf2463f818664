"""Near-duplicate texts within a dataset, for every worker alike, without a model.

Each sample's LSH band keys (minhash.py) are stored in `SampleBand`, in PostgreSQL, by the
transaction that inserts the sample (services.samples_insert): transactional, shared by every
worker, with nothing in Redis. `near_duplicates_find` looks the keys of a batch of texts up
in one query, then verifies each candidate with the true Jaccard similarity of the two
shingle sets (fetching the candidates' texts), so what it reports is at or above the
threshold; it also finds the near-copies among the texts themselves.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from .minhash import NUM_PERM, Shingled, jaccard, text_bands

THRESHOLD = 0.9
# Existing samples read per band key. A key that many samples share (a template's words:
# small models write many alike texts) says little and costs the most to read; candidates
# are ranked by the keys they share, each weighing 1/(samples read for it), so one rare key
# shared outweighs several common ones.
PER_BAND_LIMIT = 20
# Candidates compared per text, the best ranked first. A near-copy shares about half of its
# original's keys, most of them rare, and ranks first. (Stored samples that are all near
# copies of each other, which this check keeps from forming, rank alike: past this many, one
# of them at 0.9 may be missed among others at 0.88.)
MAX_VERIFIED = 10
# A candidate shares two keys, or one that fewer than half of PER_BAND_LIMIT samples hold: a
# text that only shares one template key with a sample is not worth reading that sample for.
MIN_WEIGHT = 2 / PER_BAND_LIMIT
LOCK_CLASS = 7_100_002  # advisory-lock namespace (apps/datasets/jobs.py uses 7_100_001)


@dataclass(frozen=True)
class NearDuplicate:
    """What a text nearly repeats: an existing sample, or an earlier text of the batch."""

    similarity: float  # Jaccard similarity of the shingle sets, >= the threshold
    sample_id: int | None = None
    batch_index: int | None = None

    @property
    def detail(self) -> str:
        alike = f"{math.floor(self.similarity * 100)}% alike"
        if self.sample_id is not None:
            return f"near-duplicate of sample {self.sample_id} ({alike})"
        return f"near-duplicate of another sample in this batch (#{self.batch_index}, {alike})"


# Per text, the existing samples sharing its band keys, best ranked first (see
# PER_BAND_LIMIT). One query for the whole batch; its answer is at most MAX_VERIFIED rows a
# text, however many samples share the keys.
LOOKUP_SQL = """
WITH hits AS (
    SELECT q.text, h.sample_id, count(*) OVER (PARTITION BY q.text, q.band) AS holders
    FROM unnest(%s::integer[], %s::bigint[]) AS q(text, band)
    CROSS JOIN LATERAL (
        SELECT sample_id FROM datasets_sampleband
        WHERE dataset_id = %s AND band = q.band
        LIMIT %s
    ) h
), ranked AS (
    SELECT text, sample_id,
           row_number() OVER (
               PARTITION BY text ORDER BY sum(1.0 / holders) DESC, sample_id
           ) AS rank
    FROM hits GROUP BY text, sample_id HAVING sum(1.0 / holders) >= %s
)
SELECT text, sample_id FROM ranked WHERE rank <= %s ORDER BY text, rank
"""


def _existing_candidates(dataset_id: int, bands: list[list[int]]) -> dict[int, list[int]]:
    """Per text, the existing samples sharing a band with it, best ranked first."""
    owners = [index for index, keys in enumerate(bands) for _ in keys]
    keys = [key for text_keys in bands for key in text_keys]
    found: defaultdict[int, list[int]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(
            LOOKUP_SQL,
            [owners, keys, dataset_id, PER_BAND_LIMIT, MIN_WEIGHT, MAX_VERIFIED],
        )
        for index, sample_id in cursor.fetchall():
            found[index].append(sample_id)
    return found


def _texts_of(dataset_id: int, ids: set[int]) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, text FROM datasets_sample WHERE dataset_id = %s AND id = ANY(%s)",
            [dataset_id, sorted(ids)],
        )
        return dict(cursor.fetchall())


def _estimate_floor(threshold: float) -> float:
    """The MinHash estimate (share of equal signature values) a pair must reach before its
    true similarity is computed: four standard errors below the threshold, so a pair at the
    threshold is skipped 3 times in 100,000, while texts that are merely alike (a template)
    cost one vectorised comparison rather than a set intersection."""
    return threshold - 4 * math.sqrt(threshold * (1 - threshold) / NUM_PERM) - 1 / NUM_PERM


def _estimates(batch: Shingled, rows: list[int], pool: Shingled, others: list[int]) -> list[float]:
    """MinHash estimates of the pairs (batch row, pool row), in one comparison."""
    if not rows:
        return []
    return (pool.signatures[others] == batch.signatures[rows]).mean(axis=1).tolist()


def _best(
    batch: Shingled, row: int, pool: Shingled, others: list[int], threshold: float
) -> tuple[int, float] | None:
    """The row of `pool` most alike text `row` of `batch`, at `threshold` or more, if any.
    `others` have passed the estimate already."""
    best: tuple[int, float] | None = None
    for other in others:
        similarity = jaccard(batch.shingle_set(row), pool.shingle_set(other))
        if similarity >= threshold and (best is None or similarity > best[1]):
            best = (other, similarity)
    return best


def _rank_earlier(keys: list[int], kept_by_band: dict[int, list[int]]) -> list[int]:
    """The earlier texts of the batch worth verifying, ranked as LOOKUP_SQL ranks samples."""
    weights: defaultdict[int, float] = defaultdict(float)
    for key in keys:
        holders = kept_by_band.get(key, [])[:PER_BAND_LIMIT]
        for earlier in holders:
            weights[earlier] += 1 / len(holders)
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))
    return [i for i, weight in ranked[:MAX_VERIFIED] if weight >= MIN_WEIGHT - 1e-9]


def near_duplicates_find(
    *,
    dataset_id: int,
    texts: Sequence[str] | Shingled,
    threshold: float = THRESHOLD,
    lock: bool = True,
) -> dict[int, NearDuplicate]:
    """Which of `texts` nearly repeat a sample of the dataset or an earlier text of `texts`.

    index in `texts` → NearDuplicate with `sample_id` (the existing sample most alike), or
    with `batch_index` (an earlier text that is kept: not itself a near-duplicate), so
    the answer is what inserting the texts one by one would find. Texts missing from the
    answer are new. Exact copies are near-duplicates too (similarity 1.0).

    At most three queries, whatever the number of texts. Inside a transaction (`lock`),
    it holds a transaction-level advisory lock on the dataset until that transaction
    ends: call it in the transaction that then inserts the texts kept, so that two
    workers writing into one dataset cannot both miss each other's near-copies.

    The bands are laid out for thresholds near 0.9; below, more near-duplicates are missed
    (a pair at 0.8 is found with probability 0.85, at 0.7 with 0.50).

    `texts` may be a `Shingled` batch, whose `bands` then go to `NewSample.bands` of the
    texts kept, so that `samples_insert` does not compute them again.
    """
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1].")
    batch = texts if isinstance(texts, Shingled) else Shingled(texts)
    bands = batch.bands
    if not any(bands):
        return {}
    if lock and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, dataset_id & 0x7FFFFFFF]
            )
    candidates = _existing_candidates(dataset_id, bands)
    wanted = {sample for ids in candidates.values() for sample in ids}
    existing = _texts_of(dataset_id, wanted) if wanted else {}
    sample_ids = list(existing)
    stored = Shingled(list(existing.values()))
    row_of = {sample_id: row for row, sample_id in enumerate(sample_ids)}
    floor = _estimate_floor(threshold)
    # Every (text, stored candidate) pair's estimate at once; a deleted sample is no match.
    pairs = [(i, row_of[s]) for i, ids in candidates.items() for s in ids if s in row_of]
    likely: defaultdict[int, list[int]] = defaultdict(list)
    estimates = _estimates(batch, [i for i, _ in pairs], stored, [r for _, r in pairs])
    for (index, row), estimate in zip(pairs, estimates, strict=True):
        if estimate >= floor:
            likely[index].append(row)

    found: dict[int, NearDuplicate] = {}
    kept_by_band: defaultdict[int, list[int]] = defaultdict(list)
    for index, keys in enumerate(bands):
        if not keys:
            continue
        if (match := _best(batch, index, stored, likely[index], threshold)) is not None:
            found[index] = NearDuplicate(similarity=match[1], sample_id=sample_ids[match[0]])
            continue
        earlier = _rank_earlier(keys, kept_by_band)
        close = _estimates(batch, [index] * len(earlier), batch, earlier)
        earlier = [e for e, estimate in zip(earlier, close, strict=True) if estimate >= floor]
        if (match := _best(batch, index, batch, earlier, threshold)) is not None:
            found[index] = NearDuplicate(similarity=match[1], batch_index=match[0])
            continue
        for key in keys:
            kept_by_band[key].append(index)
    return found


# --- writing bands of samples that exist ----------------------------------------------

_COPY_SQL = "COPY datasets_sampleband (dataset_id, band, sample_id) FROM STDIN (FORMAT BINARY)"
# PostgreSQL's binary COPY: a header, then per row the field count and each field's length
# and big-endian value, then -1.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("l1", ">i4"),
        ("dataset", ">i8"),
        ("l2", ">i4"),
        ("band", ">i8"),
        ("l3", ">i4"),
        ("sample", ">i8"),
    ]
)


def bands_copy(*, dataset_id: int, samples: Sequence[tuple[int, list[int]]]) -> int:
    """Write the band keys of samples, given as (sample id, keys), with one binary COPY
    (a fifth cheaper than INSERT … SELECT for these narrow rows). Returns rows written."""
    owners = np.repeat(
        np.array([sample_id for sample_id, _ in samples], dtype=np.int64),
        [len(keys) for _, keys in samples],
    )
    if not len(owners):
        return 0
    rows = np.empty(len(owners), dtype=_COPY_ROW)
    rows["fields"] = 3
    rows["l1"] = rows["l2"] = rows["l3"] = 8
    rows["dataset"] = dataset_id
    rows["band"] = [key for _, keys in samples for key in keys]
    rows["sample"] = owners
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
        copy.write(_COPY_HEADER + rows.tobytes() + b"\xff\xff")
    return len(rows)


def sample_bands_write(*, dataset_id: int, samples: Sequence[tuple[int, str]]) -> int:
    """Write the bands of existing samples, given as (id, text), replacing any they had
    (an edited text). Returns rows written."""
    if not samples:
        return 0
    ids = [sample_id for sample_id, _ in samples]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("DELETE FROM datasets_sampleband WHERE sample_id = ANY(%s)", [ids])
        keys = text_bands([text for _, text in samples])
        return bands_copy(dataset_id=dataset_id, samples=list(zip(ids, keys, strict=True)))


# Samples of the dataset after `id` that have no band: those written before bands existed,
# by `seedbed_fake_dataset`'s COPY, or with no words to band (they come back each time and
# are skipped again, cheaply).
MISSING_SQL = """
SELECT s.id, s.text FROM datasets_sample s
WHERE s.dataset_id = %s AND s.id > %s
  AND NOT EXISTS (SELECT 1 FROM datasets_sampleband b WHERE b.sample_id = s.id)
ORDER BY s.id LIMIT %s
"""
ALL_SQL = """
SELECT s.id, s.text FROM datasets_sample s
WHERE s.dataset_id = %s AND s.id > %s
ORDER BY s.id LIMIT %s
"""


def dataset_bands_build(
    *, dataset_id: int, batch_size: int = 2000, rebuild: bool = False
) -> tuple[int, int]:
    """Band the dataset's samples that have no bands (every sample with `rebuild`), one
    transaction per batch, so that it can be stopped and run again. Returns (samples,
    band rows) written."""
    last, samples, rows = 0, 0, 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(ALL_SQL if rebuild else MISSING_SQL, [dataset_id, last, batch_size])
                batch = cursor.fetchall()
            if not batch:
                return samples, rows
            rows += sample_bands_write(dataset_id=dataset_id, samples=batch)
        samples += len(batch)
        last = batch[-1][0]
