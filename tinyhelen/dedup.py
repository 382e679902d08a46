"""Duplicate detection: exact (hash of normalised text) and near (MinHash LSH over word shingles).

Shingle hashes are computed with NumPy from CRC-32 word hashes (no per-shingle Python hashing). The MinHash
signature is datasketch's own "affine32" scheme (the MurmurHash3 finalizer, then `a * h + b` modulo 2^32 with
datasketch's permutations), applied to the whole array at once: `MinHash.update_batch` would first turn every
shingle into a Python int, which costs more than the hashing itself. A test checks that the values are
datasketch's. `MinHashLSH` does the banding and lookup. Documents are offered in a fixed order and the first
of a group is kept, so the result is deterministic.
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Sequence

import numpy as np
from datasketch import MinHash, MinHashLSH

_MAX_HASH = np.uint64((1 << 32) - 1)
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 8192  # shingles per (num_perm x chunk) block: bounded memory for book-length texts
_SCHEME = "affine32"


def normalized_words(text: str) -> list[str]:
    """The lower-cased words of a text, as exact and near deduplication compare them."""
    return text.lower().split()


def exact_key(text: str | Sequence[str]) -> str:
    """Case- and whitespace-insensitive fingerprint of a text (or of its `normalized_words`)."""
    words = normalized_words(text) if isinstance(text, str) else text
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()


def shingle_hashes(text: str | Sequence[str], size: int) -> np.ndarray:
    """32-bit hashes of the lower-cased word `size`-grams of a text or of its `normalized_words` (one hash
    for texts shorter than that)."""
    words = normalized_words(text) if isinstance(text, str) else text
    if not words:
        return np.zeros(1, dtype=np.uint64)
    # Words hold no whitespace, so joining with single spaces and splitting the bytes gives them back encoded.
    encoded = " ".join(words).encode("utf-8").split(b" ")
    word_hashes = np.fromiter(map(zlib.crc32, encoded), dtype=np.uint64, count=len(encoded))
    width = min(size, len(word_hashes))
    combined = np.zeros(len(word_hashes) - width + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        for offset in range(width):
            combined = combined * _SHINGLE_MULTIPLIER + word_hashes[offset : offset + len(combined)]
    return combined & _MAX_HASH  # repeated shingles do not change a minimum: no need to deduplicate


def _fmix32(values: np.ndarray) -> np.ndarray:
    """The MurmurHash3 32-bit finalizer (datasketch's pre-mix for the affine32 scheme); wraps modulo 2^32."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


@functools.lru_cache(maxsize=8)
def _lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's optimal (bands, rows) for a threshold: a numerical optimisation worth computing once."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


class NearDuplicates:
    """MinHash LSH index: `is_duplicate(key, signature)` answers, then remembers the document."""

    def __init__(self, num_perm: int, threshold: float, seed: int = 1) -> None:
        self.num_perm, self.seed = num_perm, seed
        template = MinHash(num_perm=num_perm, seed=seed, scheme=_SCHEME)
        # Generating permutations costs about 1 ms; make them once and share them.
        self._permutations = template.permutations
        a, b = (np.asarray(p, dtype=np.uint32) for p in template.permutations)
        self._a, self._b = a[:, None], b[:, None]
        self._empty = template.hashvalues
        self._lsh = MinHashLSH(num_perm=num_perm, params=_lsh_bands(threshold, num_perm))

    def signature(self, text: str | Sequence[str], shingle_size: int) -> np.ndarray:
        """The MinHash values of a text's shingles (or of its `normalized_words`' shingles)."""
        hashes = _fmix32(shingle_hashes(text, shingle_size).astype(np.uint32))
        values = self._empty
        with np.errstate(over="ignore"):
            for start in range(0, len(hashes), _CHUNK):
                block = self._a * hashes[None, start : start + _CHUNK]  # (num_perm, chunk), modulo 2^32
                block += self._b
                values = np.minimum(values, block.min(axis=1))
        return values

    def is_duplicate(self, key: str, signature: np.ndarray) -> str | None:
        """The key of an earlier near-duplicate, or None (and the document is indexed)."""
        minhash = MinHash(num_perm=self.num_perm, seed=self.seed, hashvalues=signature,
                          permutations=self._permutations, scheme=_SCHEME)
        matches = self._lsh.query(minhash)
        if matches:
            return min(matches)
        self._lsh.insert(key, minhash)
        return None
