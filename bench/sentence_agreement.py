"""Measure how the three offline sentence splitters agree, and how fast they are.

    python bench/sentence_agreement.py [--raw data/raw] [--variant ori] [--max-docs 200]

Reads documents from an ingest output (default: the bundled sample's, from `dvc repro ingest`), splits
them with spaCy's sentencizer, pySBD and Punkt (trained unsupervised on the same texts), and prints, for
each pair, the F1 of their sentence boundaries (a boundary = the character offset where a sentence ends),
plus sentences and words per second of each.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from tinyhelen.core.sentences import make_splitter


def boundaries(text: str, sentences: list[str]) -> set[int]:
    """Character offsets in `text` where each sentence ends (whitespace-insensitive alignment)."""
    ends, position = set(), 0
    for sentence in sentences:
        found = text.find(sentence, position)
        if found < 0:
            continue
        position = found + len(sentence)
        ends.add(position)
    return ends


def f1(a: set[int], b: set[int]) -> float:
    if not a and not b:
        return 1.0
    overlap = len(a & b)
    return 2 * overlap / (len(a) + len(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--variant", default="ori")
    parser.add_argument("--max-docs", type=int, default=200)
    args = parser.parse_args()

    texts = []
    for path in sorted((Path(args.raw) / args.variant).glob("*/*.jsonl")):
        if path.stem in ("code", "math"):
            continue
        with path.open(encoding="utf-8") as handle:
            texts.extend(json.loads(line)["text"] for line in itertools.islice(handle, args.max_docs))
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts)} documents, {words} words ({args.raw}/{args.variant}, prose genres)")
    results = {}
    for name in ("spacy", "pysbd", "punkt"):
        start = time.perf_counter()
        split = make_splitter(name, texts if name == "punkt" else None)
        split(texts[0])  # load models before timing
        setup = time.perf_counter() - start
        start = time.perf_counter()
        results[name] = [split(t) for t in texts]
        elapsed = time.perf_counter() - start
        count = sum(len(s) for s in results[name])
        print(f"{name:6s} {count:7d} sentences  {words / elapsed:9.0f} words/s  (set-up {setup:.1f} s)")
    for a, b in itertools.combinations(results, 2):
        scores = [
            f1(boundaries(t, x), boundaries(t, y)) for t, x, y in zip(texts, results[a], results[b], strict=False)
        ]
        print(f"boundary F1 {a} vs {b}: {sum(scores) / len(scores):.3f}")


if __name__ == "__main__":
    main()
