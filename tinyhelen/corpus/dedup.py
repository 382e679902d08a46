"""Duplicate detection: exact (hash of normalised text) and near (MinHash LSH over word shingles).

Shingle hashes are computed with NumPy from CRC-32 word hashes (no per-shingle Python hashing). The MinHash
signature is datasketch's own "affine32" scheme (the MurmurHash3 finalizer, then `a * h + b` modulo 2^32 with
datasketch's permutations), applied to the whole array at once: `MinHash.update_batch` would first turn every
shingle into a Python int, which costs more than the hashing itself. The LSH banding uses datasketch's
optimal (bands, rows) for the threshold and cuts the signature into bands as `MinHashLSH` does, but the band
keys are made where the signature is (in the clean workers) and the index is a dict per band: building a
`MinHash` object per document to feed `MinHashLSH` cost the main process more than the lookups. Tests check
both against datasketch. Documents are offered in a fixed order and the first of a group is kept, so the
result is deterministic.
"""

from __future__ import annotations

import functools
import hashlib
import zlib

import numpy as np
from datasketch import MinHash, MinHashLSH

_MAX_HASH = np.uint64((1 << 32) - 1)
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_CHUNK = 8192  # shingles per (num_perm x chunk) block: bounded memory for book-length texts
_SCHEME = "affine32"


def normalized_text(text: str) -> bytes:
    """A text as deduplication compares it: lower-cased words joined by single spaces, UTF-8."""
    return " ".join(text.lower().split()).encode("utf-8")


def count_words(normalized: bytes) -> int:
    """The number of words of a `normalized_text`."""
    return normalized.count(b" ") + 1 if normalized else 0


def exact_key(text: str | bytes) -> str:
    """Case- and whitespace-insensitive fingerprint of a text (or of its `normalized_text`)."""
    return hashlib.sha1(normalized_text(text) if isinstance(text, str) else text).hexdigest()


def shingle_hashes(text: str | bytes, size: int) -> np.ndarray:
    """32-bit hashes of the lower-cased word `size`-grams of a text or of its `normalized_text` (one hash
    for texts shorter than that)."""
    normalized = normalized_text(text) if isinstance(text, str) else text
    if not normalized:
        return np.zeros(1, dtype=np.uint64)
    words = normalized.split(b" ")
    word_hashes = np.fromiter(map(zlib.crc32, words), dtype=np.uint64, count=len(words))
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
    """MinHash LSH index: `is_duplicate(key, bands)` answers, then remembers the document."""

    def __init__(self, num_perm: int, threshold: float, seed: int = 1) -> None:
        template = MinHash(num_perm=num_perm, seed=seed, scheme=_SCHEME)
        # Generating permutations costs about 1 ms; make them once and share them.
        a, b = (np.asarray(p, dtype=np.uint32) for p in template.permutations)
        self._a, self._b = a[:, None], b[:, None]
        self._empty = template.hashvalues
        bands, rows = _lsh_bands(threshold, num_perm)
        self._ranges = [(band * rows, (band + 1) * rows) for band in range(bands)]
        self._tables: list[dict[bytes, list[str]]] = [{} for _ in range(bands)]

    def minhash(self, text: str | bytes, shingle_size: int) -> np.ndarray:
        """The MinHash values of a text's shingles (or of its `normalized_text`'s shingles)."""
        hashes = _fmix32(shingle_hashes(text, shingle_size).astype(np.uint32))
        values = self._empty
        with np.errstate(over="ignore"):
            for start in range(0, len(hashes), _CHUNK):
                block = self._a * hashes[None, start : start + _CHUNK]  # (num_perm, chunk), modulo 2^32
                block += self._b
                values = np.minimum(values, block.min(axis=1))
        return values

    def signature(self, text: str | bytes, shingle_size: int) -> list[bytes]:
        """The LSH band keys of a text (or of its `normalized_text`): what `is_duplicate` takes."""
        values = self.minhash(text, shingle_size)
        return [values[start:end].tobytes() for start, end in self._ranges]

    def is_duplicate(self, key: str, bands: list[bytes]) -> str | None:
        """The (smallest) key of an earlier document sharing a band, or None (and the document is indexed)."""
        matches = [earlier for table, band in zip(self._tables, bands, strict=False) for earlier in table.get(band, ())]
        if matches:
            return min(matches)
        for table, band in zip(self._tables, bands, strict=False):
            table.setdefault(band, []).append(key)
        return None
