"""Choose pre-training documents per genre, by ratio, up to a token budget (spec §1.1, rebuilt).

For each split and genre the target is `ratio x budget` tokens (validation and test: `eval_fraction` of
that), counted in `budget_unit` (the `count_with` 2K tokenizer by default; the paper counted GPT-2 tokens,
`gpt2_pieces`) on the `reference` variant's text. Candidates are ordered by
`sha256("<seed>:<id>")` and taken whole until the target is reached, as the paper's sampler appended whole
documents (so a long book overshoots). Ordering by a hash rather than a shuffle keeps the choice stable when
documents are added: a document stays chosen unless new ones with smaller keys fill its genre's budget first.
The same ids are then written for every corpus (leaner and ori), so the two differ in language, not in
content; with `paired_only`, only documents present in both variants are candidates.

A composed genre with no documents in a split is reported under `absent` and either fails the run or has its
ratio shared among the present genres in proportion (`on_absent`). Output, one file per corpus and split,
documents in key order (a seeded, stable interleaving of the genres):

    <out_dir>/<corpus>/<split>.jsonl
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.documents import corpus_file, iter_documents, training_text
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_dir, sha256_file, write_jsonl
from tinyhelen.core.release import SPLITS, VARIANTS
from tinyhelen.tokens.config import ComposeConfig
from tinyhelen.tokens.tokenizer import ChunkEncoder, load_backend

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/compose.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("budget_tokens", "splits.train.genres.*.tokens")


def selection_key(seed: int, doc_id: str) -> str:
    """The order in which documents are chosen: a hash of the seed and the id, independent of the others."""
    return hashlib.sha256(f"{seed}:{doc_id}".encode()).hexdigest()


def effective_ratios(cfg: ComposeConfig, present: list[str]) -> dict[str, float]:
    """The ratio of each present genre, with absent genres' ratios shared among the present ones in
    proportion (so the total stays that of the composed genres).

    Raises:
        DataError: no composed genre with a positive ratio is present.
    """
    total = sum(cfg.ratios[g] for g in cfg.genres)
    kept = sum(cfg.ratios[g] for g in present)
    if kept <= 0:
        raise DataError(f"none of the composed genres {cfg.genres} (with a positive ratio) has documents")
    return {g: cfg.ratios[g] * total / kept for g in present}


def choose(keys: list[str], tokens: list[int], target: float | None) -> list[int]:
    """Indices of the documents chosen: in key order, whole documents, until `target` tokens are reached."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    if target is None:
        return order
    chosen, total = [], 0
    for index in order:
        if total >= target:
            break
        chosen.append(index)
        total += tokens[index]
    return chosen


class _TextCounter:
    """`count(texts)` with a per-text counting function (GPT-2 pieces, words, another tokenizer)."""

    def __init__(self, count_one) -> None:
        self.count_one = count_one

    def count(self, texts: list[str]) -> list[int]:
        return [self.count_one(text) for text in texts]


def budget_counter(cfg: ComposeConfig, tokenizers_dir: str | Path):
    """What counts the budget (`compose.budget_unit`): the `count_with` tokenizer of the `tokenizer` stage,
    GPT-2 pre-tokenisation pieces (the paper's sampler counted GPT-2 tokens), words, or a tokenizer folder."""
    if cfg.budget_unit == "tokenizer":
        return ChunkEncoder(load_backend(Path(tokenizers_dir) / cfg.count_with))
    from tinyhelen.simplify.chunking import make_token_counter

    return _TextCounter(make_token_counter(cfg.budget_unit))


@dataclass(frozen=True)
class ComposeResult:
    """What `compose` did: metrics for metrics/compose.json and input hashes for meta.json."""

    metrics: dict[str, Any]
    inputs: dict[str, str]


def _load(root: Path, split: str, genre: str, inputs: dict[str, str]) -> dict[str, dict[str, Any]]:
    path = corpus_file(root, split, genre)
    if path.is_file():
        inputs[str(path)] = sha256_file(path)
    return {record["id"]: record for record in iter_documents(path)}


def _splits(
    cfg: ComposeConfig, corpora: dict[str, Path], counter: ChunkEncoder, seed: int, inputs: dict[str, str]
) -> Iterator[tuple[str, dict[str, list[dict]], dict[str, Any]]]:
    """Per split: the chosen records per corpus (in key order) and the split's metrics."""
    variants = list(VARIANTS) if cfg.paired_only else sorted({cfg.reference, *cfg.corpora})
    for split in SPLITS:
        scale = 1.0 if split == "train" else cfg.eval_fraction
        pool: dict[str, dict[str, dict[str, dict]]] = {}  # genre -> variant -> id -> record
        candidates: dict[str, list[str]] = {}
        for genre in cfg.genres:
            pool[genre] = {v: _load(corpora[v], split, genre, inputs) for v in variants}
            ids = list(pool[genre][cfg.reference])
            if cfg.paired_only:
                ids = [i for i in ids if all(i in pool[genre][v] for v in variants)]
            candidates[genre] = ids
        present = [g for g in cfg.genres if candidates[g] and cfg.ratios[g] > 0]
        absent = [g for g in cfg.genres if not candidates[g] and cfg.ratios[g] > 0]
        if absent:
            log.warning("%s: no documents for genres %s (%s)", split, absent, cfg.on_absent)
            if cfg.on_absent == "fail":
                where = ", ".join(str(corpus_file(corpora[cfg.reference], split, g)) for g in absent)
                raise DataError(
                    f"compose: no {split} documents for genres {absent} ({where}); set "
                    "compose.on_absent=renormalise to share their ratios among the others"
                )
        if not present:
            raise DataError(
                f"compose: no {split} documents under {corpora[cfg.reference] / split} for any "
                f"composed genre {cfg.genres}"
            )
        ratios = effective_ratios(cfg, present)
        chosen: list[tuple[str, str, str]] = []  # (key, genre, id)
        split_metrics: dict[str, Any] = {"absent": absent, "genres": {}}
        for genre in present:
            ids = candidates[genre]
            records = pool[genre][cfg.reference]
            tokens = counter.count([training_text(records[i]) for i in ids])
            keys = [selection_key(seed, i) for i in ids]
            target = ratios[genre] * cfg.budget_tokens * scale if cfg.budget_tokens else None
            picked = choose(keys, tokens, target)
            chosen.extend((keys[k], genre, ids[k]) for k in picked)
            row = {
                "ratio": round(ratios[genre], 6),
                "target_tokens": round(target) if target is not None else None,
                "tokens": sum(tokens[k] for k in picked),
                "documents": len(picked),
                "available_documents": len(ids),
                "available_tokens": sum(tokens),
            }
            row["shortfall"] = row["target_tokens"] is not None and row["tokens"] < row["target_tokens"]
            split_metrics["genres"][genre] = row
        chosen.sort()
        out = {corpus: [pool[g][corpus][i] for _, g, i in chosen if i in pool[g][corpus]] for corpus in cfg.corpora}
        for corpus, records in out.items():
            split_metrics.setdefault("corpora", {})[corpus] = {
                "documents": len(records),
                "missing_documents": len(chosen) - len(records),
                "tokens": sum(counter.count([training_text(r) for r in records])),
            }
        yield split, out, split_metrics


def compose(
    cfg: ComposeConfig, seed: int, corpora: dict[str, Path], tokenizers_dir: str | Path, out_dir: str | Path
) -> ComposeResult:
    """Choose documents for every split and write `<out_dir>/<corpus>/<split>.jsonl` for each corpus.

    Args:
        cfg: the `compose` params section.
        seed: the global seed (it keys the stable document order).
        corpora: variant -> corpus folder (`leaner` -> data/leaner, `ori` -> data/clean/ori).
        tokenizers_dir: the `tokenizer` stage's folder; `<tokenizers_dir>/<cfg.count_with>` counts tokens.
        out_dir: written whole, atomically.

    Returns:
        Per split: achieved vs target tokens per genre, absent genres, documents and tokens per corpus.
    """
    counter = budget_counter(cfg, tokenizers_dir)
    inputs: dict[str, str] = {}
    metrics: dict[str, Any] = {
        "budget_tokens": cfg.budget_tokens,
        "budget_unit": cfg.budget_unit,
        "reference": cfg.reference,
        "count_with": cfg.count_with,
        "splits": {},
    }
    with atomic_dir(out_dir) as tmp:
        for split, out, split_metrics in tqdm(
            _splits(cfg, corpora, counter, seed, inputs), total=len(SPLITS), desc="compose", unit="split"
        ):
            for corpus, records in out.items():
                write_jsonl(tmp / corpus / f"{split}.jsonl", records)
            metrics["splits"][split] = split_metrics
            rows = split_metrics["genres"]
            log.info(
                "%s: %s",
                split,
                ", ".join(
                    f"{g} {r['tokens']}/{r['target_tokens'] or 'all'} tokens ({r['documents']} docs)"
                    for g, r in rows.items()
                ),
            )
    return ComposeResult(metrics=metrics, inputs=inputs)
