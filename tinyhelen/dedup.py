"""Duplicate detection: exact (hash of normalised text) and near (MinHash LSH over word shingles).

Shingle hashes are computed with NumPy from CRC-32 word hashes (no per-shingle Python hashing); datasketch's
`MinHash` applies its permutations to them and `MinHashLSH` does the banding and lookup. Documents
are offered in a fixed order and the first of a group is kept, so the result is deterministic.
"""

from __future__ import annotations

import functools
import hashlib
import zlib

import numpy as np
from datasketch import MinHash, MinHashLSH

_MAX_HASH = np.uint64((1 << 32) - 1)
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 4096


def exact_key(text: str) -> str:
    """Case- and whitespace-insensitive fingerprint of a text."""
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """32-bit hashes of the lower-cased word `size`-grams of `text` (one hash for texts shorter than that)."""
    words = text.lower().encode("utf-8").split()
    if not words:
        return np.zeros(1, dtype=np.uint64)
    word_hashes = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
    width = min(size, len(word_hashes))
    combined = np.zeros(len(word_hashes) - width + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        for offset in range(width):
            combined = combined * _SHINGLE_MULTIPLIER + word_hashes[offset : offset + len(combined)]
    return combined & _MAX_HASH  # repeated shingles do not change a minimum: no need to deduplicate


@functools.lru_cache(maxsize=8)
def _lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's optimal (bands, rows) for a threshold: a numerical optimisation worth computing once."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


class NearDuplicates:
    """MinHash LSH index: `is_duplicate(key, signature)` answers, then remembers the document."""

    def __init__(self, num_perm: int, threshold: float, seed: int = 1) -> None:
        self.num_perm, self.seed = num_perm, seed
        template = MinHash(num_perm=num_perm, seed=seed)
        # Generating permutations costs about 1 ms; make them once and share them.
        self._scheme, self._permutations = template.scheme, template.permutations
        self._lsh = MinHashLSH(num_perm=num_perm, params=_lsh_bands(threshold, num_perm))

    def signature(self, text: str, shingle_size: int) -> np.ndarray:
        """The MinHash hash values of a text's shingles (datasketch's permutations over our shingle hashes)."""
        minhash = MinHash(num_perm=self.num_perm, seed=self.seed, hashfunc=int,  # the values are hashes already
                          permutations=self._permutations, scheme=self._scheme)
        hashes = shingle_hashes(text, shingle_size).tolist()
        for start in range(0, len(hashes), _CHUNK):  # bounded memory for book-length texts
            minhash.update_batch(hashes[start : start + _CHUNK])
        return minhash.hashvalues

    def is_duplicate(self, key: str, signature: np.ndarray) -> str | None:
        """The key of an earlier near-duplicate, or None (and the document is indexed)."""
        minhash = MinHash(num_perm=self.num_perm, seed=self.seed, hashvalues=signature,
                          permutations=self._permutations, scheme=self._scheme)
        matches = self._lsh.query(minhash)
        if matches:
            return min(matches)
        self._lsh.insert(key, minhash)
        return None
