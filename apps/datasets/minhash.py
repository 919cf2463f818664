"""MinHash signatures and LSH band keys of texts, for near-duplicate detection (neardup.py).

A text's shingles are its character 5-grams, taken from its words (`word_text`: NFKC,
casefolded, punctuation and spacing dropped); a text of fewer than five characters is one
shingle. Character rather than word 5-grams: at a Jaccard threshold of 0.9, one word
changed in a 40-word text leaves about 0.78 of its word 5-grams but 0.93 of its character
5-grams (measured on English prose: 8% versus 91% of such edits found), and character
shingles need no word boundaries (Chinese, Japanese, Thai).

Signatures are datasketch MinHashes (128 permutations, its default "affine32" scheme, seed
1) computed for a whole batch at once with numpy; `minhash` builds the same signature with
datasketch itself, and the tests check that both agree. LSH cuts the first 56 values into 8
bands of 7; a band's key is a 64-bit hash of its number and values. Two texts of Jaccard
similarity s agree on a band with probability s^7, so on at least one of the 8 with
1 - (1 - s^7)^8: 0.9945 at 0.9, 0.9994 at 0.93, 0.85 at 0.8, 0.50 at 0.7, 0.06 at 0.5,
0.002 at 0.3. Each band is a row to write with every sample, and those rows are most of
what storing a sample costs, so the layout is the fewest bands that still find 99.4% of the
pairs at exactly 0.9: 12 bands of 10 find as many with half again the rows, 16 of 8 find
99.99% with twice the rows. Candidates that are merely alike (0.5 to 0.8) cost a
comparison of signatures, rarely more (neardup.py). datasketch's `_optimal_param(0.9, 128)`
would pick 5 bands of 25, weighing misses and false candidates equally: it finds 31% of the
pairs at exactly 0.9.

Changing the shingles, the hash functions or the band layout changes every key: rebuild the
stored bands then (`manage.py seedbed_near_duplicate_bands --rebuild`).
"""

import unicodedata
from collections.abc import Sequence

import numpy as np
from datasketch import LeanMinHash, MinHash

from apps.specs.texts import word_text

NUM_PERM = 128
BANDS = 8
ROWS = 7  # the first 56 of the 128 values are banded; all 128 estimate similarities
SHINGLE = 5
_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_SEED = MinHash(num_perm=NUM_PERM, seed=1)  # the permutations every signature uses
_A32, _B32 = (p.astype(np.uint32) for p in _SEED.permutations)
_EMPTY = np.empty(0, dtype=_U64)


def _mix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (a bijection); numpy arrays wrap around on overflow."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def _mix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch applies it before its permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


_BAND_SEEDS = _mix64(np.arange(1, BANDS + 1, dtype=_U64) * _GOLDEN)


def shingle_form(text: str) -> str:
    """The string a text's shingles are cut from."""
    words = word_text(text)
    if words or not text.strip():
        return words
    # Nothing but symbols (emoji, say): compare those rather than nothing.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _window_hashes(mixed: np.ndarray, width: int) -> np.ndarray:
    """A 64-bit hash of every run of `width` consecutive (mixed) characters."""
    count = len(mixed) - width + 1
    h = mixed[:count].copy()
    for offset in range(1, width):
        h = h * _GOLDEN + mixed[offset : offset + count]
    return _mix64(h)


def shingle_hashes(texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's shingle hashes (uint64, with repeats; empty for a text without words)."""
    forms = [shingle_form(t).encode("utf-32-le", "surrogatepass") for t in texts]
    lengths = [len(f) // 4 for f in forms]
    if not any(lengths):
        return [_EMPTY] * len(texts)
    codes = np.frombuffer(b"".join(forms), dtype="<u4").astype(_U64)
    mixed = _mix64(codes + _U64(1))
    # One pass over all texts at once; windows across two texts are never looked at.
    every = _window_hashes(mixed, SHINGLE) if len(mixed) >= SHINGLE else _EMPTY
    hashes, start = [], 0
    for length in lengths:
        if length >= SHINGLE:
            hashes.append(every[start : start + length - SHINGLE + 1])
        elif length:
            hashes.append(_window_hashes(mixed[start : start + length], length))
        else:
            hashes.append(_EMPTY)
        start += length
    return hashes


def shingle_sets(texts: Sequence[str]) -> list[np.ndarray]:
    """Each text's distinct shingle hashes, sorted: what the Jaccard similarity counts."""
    return [np.unique(h) for h in shingle_hashes(texts)]


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two `shingle_sets` entries (0 when either is empty)."""
    if not len(a) or not len(b):
        return 0.0
    common = len(np.intersect1d(a, b, assume_unique=True))
    return common / (len(a) + len(b) - common)


_CHUNK = 4096  # shingles permuted at once: 2 MB


def signatures(hashes: Sequence[np.ndarray]) -> np.ndarray:
    """MinHash values (len(hashes) x NUM_PERM, uint32), as datasketch computes them for
    `MinHash(num_perm=128, seed=1, hashfunc=<the shingle hash, cut to 32 bits>)`."""
    sig = np.full((len(hashes), NUM_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
    parts = [(i, h) for i, h in enumerate(hashes) if len(h)]
    if not parts:
        return sig
    mixed = _mix32((np.concatenate([h for _, h in parts]) & _MASK32).astype(np.uint32))
    owner = np.repeat(np.array([i for i, _ in parts], dtype=np.intp), [len(h) for _, h in parts])
    # Permutations x shingles, so that each text's shingles are contiguous in every row:
    # numpy's reduceat is several times faster along rows than down columns.
    buffer = np.empty((NUM_PERM, _CHUNK), dtype=np.uint32)
    a, b = _A32[:, None], _B32[:, None]
    for start in range(0, len(mixed), _CHUNK):
        hv = mixed[start : start + _CHUNK]
        permuted = buffer[:, : len(hv)]
        np.multiply(a, hv[None, :], out=permuted)  # wraps around: mod 2^32
        np.add(permuted, b, out=permuted)
        rows = owner[start : start + _CHUNK]
        firsts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        mins = np.minimum.reduceat(permuted, firsts, axis=1).T
        texts = rows[firsts]
        sig[texts] = np.minimum(sig[texts], mins)
    return sig


def minhash(text: str) -> LeanMinHash:
    """The text's signature computed by datasketch itself (one text at a time; slower)."""
    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=lambda h: int(h) & 0xFFFFFFFF)
    m.update_batch(shingle_hashes([text])[0].tolist())
    return LeanMinHash(m)


def band_keys(sig: np.ndarray) -> np.ndarray:
    """The BANDS keys of each signature (len(sig) x BANDS, int64 as PostgreSQL's bigint)."""
    values = sig[:, : BANDS * ROWS].astype(_U64).reshape(len(sig), BANDS, ROWS)
    h = np.broadcast_to(_BAND_SEEDS, (len(sig), BANDS)).copy()
    for row in range(ROWS):
        h = _mix64(h * _GOLDEN + values[:, :, row])
    return h.view(np.int64)


def bands_of(hashes: list[np.ndarray], sig: np.ndarray) -> list[list[int]]:
    keys = band_keys(sig).tolist()
    # Two equal keys in one text (odds 2^-57) would break the insert: keep one.
    return [list(dict.fromkeys(k)) if len(h) else [] for k, h in zip(keys, hashes, strict=True)]


class Shingled:
    """Texts with their shingle hashes, signatures and band keys, computed once for a batch
    (a text without words has no keys: it is nobody's near-copy); shingle sets are made
    when needed."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.hashes = shingle_hashes(texts)
        self.signatures = signatures(self.hashes)
        self.bands = bands_of(self.hashes, self.signatures)
        self._sets: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.hashes)

    def shingle_set(self, row: int) -> np.ndarray:
        if row not in self._sets:
            self._sets[row] = np.unique(self.hashes[row])
        return self._sets[row]


def text_bands(texts: Sequence[str]) -> list[list[int]]:
    """Each text's band keys."""
    return Shingled(texts).bands
