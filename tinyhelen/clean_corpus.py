"""The clean stage over a whole corpus: stream data/raw, clean in worker processes, deduplicate in order.

    data/clean/<variant>/<split>/<genre>.jsonl     cleaned records, same ids, same order
    data/clean/<variant>/instruction.jsonl
    data/clean/rejects.jsonl                       {id, variant, split, genre, rule, reason}

Per (variant, genre): an optional first pass counts short lines across all documents (cross-document
boilerplate); then each split, in the order train, validation, test, is streamed through a process pool
(`imap`, so order is kept) that applies the per-document rules and computes MinHash signatures; the main
process drops exact and near duplicates, keeping the first occurrence. Duplicates are therefore found across
splits too (a test document that repeats a training document is removed from test), and the output does
not depend on the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.clean import Outcome, clean_document, line_key
from tinyhelen.config import CleanConfig, DataConfig
from tinyhelen.dedup import NearDuplicates, exact_key
from tinyhelen.errors import BadRecordError
from tinyhelen.language import preload_language_model
from tinyhelen.io import SkipCounter, atomic_dir, dumps_line, handle_bad_record, iter_jsonl, sha256_file

log = logging.getLogger(__name__)

RULES = ("unicode", "markup", "boilerplate", "private_data", "language", "length", "exact_dedup", "near_dedup")
_REQUIRED = {"id": str, "genre": str, "text": str}
_BATCH = 32  # documents per task sent to a worker, at most
_BATCH_CHARS = 100_000  # characters per task, at most (unless one document is longer)
_MIN_POOL_BYTES = 500_000

# Worker state, set once per pool by `_init_worker` (fork start: inherited, not pickled per task).
_STATE: dict[str, Any] = {}


def _init_worker(cfg: CleanConfig, common_lines: frozenset[str]) -> None:
    _STATE.update(cfg=cfg, common_lines=common_lines,
                  near=NearDuplicates(cfg.near_dedup.num_perm, cfg.near_dedup.threshold))


@dataclass
class Cleaned:
    """One document after the per-document rules, with what deduplication and counting need (computed in
    the worker, so the main process only looks up, writes and counts)."""

    id: str
    words_in: int
    outcome: Outcome
    words_out: int = 0
    exact_key: str | None = None
    signature: Any = None


def _clean_one(record: dict[str, Any]) -> Cleaned:
    cfg: CleanConfig = _STATE["cfg"]
    outcome = clean_document(record, cfg, _STATE["common_lines"])
    result = Cleaned(id=record["id"], words_in=len(record["text"].split()), outcome=outcome)
    if outcome.record is not None:
        text = outcome.record["text"]
        result.words_out = len(text.split())
        if cfg.exact_dedup.enabled:
            result.exact_key = exact_key(text)
        if cfg.near_dedup.enabled and record["genre"] in cfg.near_dedup.genres:
            result.signature = _STATE["near"].signature(text, cfg.near_dedup.shingle_size)
    return result


@dataclass
class GenreStats:
    """Counts for one (variant, genre) across its splits."""

    documents_in: int = 0
    documents_out: int = 0
    words_in: int = 0
    words_out: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: {rule: 0 for rule in RULES})
    words_removed: dict[str, int] = field(default_factory=lambda: {rule: 0 for rule in RULES})

    def as_dict(self) -> dict[str, Any]:
        return {"documents_in": self.documents_in, "documents_out": self.documents_out,
                "words_in": self.words_in, "words_out": self.words_out,
                "rejected": self.rejected, "words_removed": self.words_removed}


@dataclass
class CleanResult:
    """Metrics for metrics/clean.json, input hashes for meta.json, rows for the removal plot."""

    metrics: dict[str, Any]
    inputs: dict[str, str]
    plot_rows: list[dict[str, Any]]


def _read(path: Path, genre: str, skipped: SkipCounter | None) -> Iterator[dict[str, Any]]:
    """Records of one data/raw file, checked against what cleaning needs."""
    for lineno, record in iter_jsonl(path, skipped):
        problem = None
        if not isinstance(record, dict):
            problem = "a record should be a JSON object"
        else:
            for key, kind in _REQUIRED.items():
                if not isinstance(record.get(key), kind):
                    problem = f"missing or malformed '{key}'"
                    break
            else:
                if record["genre"] != genre:
                    problem = f"genre '{record['genre']}' in the {genre} file"
        if problem is None:
            yield record
            continue
        handle_bad_record(BadRecordError(f"{path}:{lineno}: {problem}"), path, skipped)


def _common_lines(paths: list[Path], genre: str, cfg: CleanConfig, skipped: SkipCounter | None) -> frozenset[str]:
    """Short lines that occur in at least `min_docs` documents of the genre."""
    documents_with: dict[str, int] = {}
    max_words = cfg.boilerplate.max_words
    for path in paths:
        for record in _read(path, genre, skipped):
            keys = {line_key(line) for line in record["text"].split("\n")}
            for key in keys:
                if key and len(key.split()) <= max_words:
                    documents_with[key] = documents_with.get(key, 0) + 1
    return frozenset(k for k, n in documents_with.items() if n >= cfg.boilerplate.min_docs)


def _clean_batch(records: list[dict[str, Any]]) -> list[Cleaned]:
    return [_clean_one(record) for record in records]


def _outcomes(records: Iterator[dict[str, Any]], pool: Any, workers: int) -> Iterator[Cleaned]:
    """Cleaned documents in input order.

    With a pool, batches stream through `imap` (workers clean while this process deduplicates and writes);
    a semaphore keeps at most a few batches per worker in flight, so memory stays bounded.
    """
    if pool is None:
        yield from map(_clean_one, records)
        return
    in_flight = threading.BoundedSemaphore(4 * workers)

    def batches() -> Iterator[list[dict[str, Any]]]:
        # Batches are cut by size as well as count, so that a handful of book-length documents is still
        # shared between the workers.
        batch: list[dict[str, Any]] = []
        size = 0
        for record in records:
            batch.append(record)
            size += len(record["text"])
            if len(batch) >= _BATCH or size >= _BATCH_CHARS:
                in_flight.acquire()  # runs in the pool's feeder thread: blocks it, not us
                yield batch
                batch, size = [], 0
        if batch:
            in_flight.acquire()
            yield batch

    for results in pool.imap(_clean_batch, batches()):
        in_flight.release()
        yield from results


def _workers(cfg: CleanConfig) -> int:
    return cfg.workers or os.cpu_count() or 1


def clean_corpus(raw_dir: str | Path, out_dir: str | Path, data: DataConfig, cfg: CleanConfig) -> CleanResult:
    """Clean every selected (variant, split, genre) file of `raw_dir` into `out_dir`.

    Args:
        raw_dir: the ingest output (data/raw).
        out_dir: the output folder (data/clean); replaced as a whole once everything is written.
        data: selects variants, genres, splits and instructions; its `on_bad_record` policy applies.
        cfg: the rules.

    Returns:
        Per variant and genre: documents and words in and out, documents rejected and words removed per rule.

    Raises:
        BadRecordError: a malformed input record, unless `data.on_bad_record` is `skip`.
    """
    raw_dir = Path(raw_dir)
    skipped = SkipCounter() if data.on_bad_record == "skip" else None
    metrics: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    groups = [(g, [(s, Path(s) / f"{g}.jsonl") for s in data.splits]) for g in data.genres]
    if data.instructions:
        groups.append(("instruction", [("all", Path("instruction.jsonl"))]))
    context = multiprocessing.get_context("fork")
    if cfg.language.enabled:
        preload_language_model()  # load once here; forked workers share it

    with atomic_dir(out_dir) as tmp, open(tmp / "rejects.jsonl", "w", encoding="utf-8") as rejects:
        for variant in data.variants:
            for genre, files in groups:
                paths = [raw_dir / variant / rel for _, rel in files]
                for path in paths:
                    if path.exists():
                        inputs[path.relative_to(raw_dir).as_posix()] = sha256_file(path)
                common = frozenset()
                if cfg.boilerplate.enabled and genre in cfg.boilerplate.genres:
                    common = _common_lines([p for p in paths if p.exists()], genre, cfg, skipped)
                stats = GenreStats()
                exact_seen: dict[str, str] = {}
                near = NearDuplicates(cfg.near_dedup.num_perm, cfg.near_dedup.threshold)
                size = sum(p.stat().st_size for p in paths if p.exists())
                # A pool pays off only on real volumes; either way the output is the same.
                workers = _workers(cfg) if size >= _MIN_POOL_BYTES else 1
                pool = context.Pool(workers, _init_worker, (cfg, common)) if workers > 1 else None
                if pool is None:
                    _init_worker(cfg, common)
                try:
                    for (split, rel), path in zip(files, paths):
                        out_path = tmp / variant / rel
                        out_path.parent.mkdir(parents=True, exist_ok=True)
                        if not path.exists():
                            log.warning("%s is missing: writing an empty %s", path, out_path.name)
                            out_path.touch()
                            continue
                        with open(out_path, "w", encoding="utf-8") as out:
                            records = _read(path, genre, skipped)
                            progress = tqdm(_outcomes(records, pool, workers), desc=f"clean {variant}/{split}/{genre}",
                                            unit="doc", disable=None, leave=False)
                            for item in progress:
                                _account(item, stats, exact_seen, near, out, rejects, variant, split, genre)
                except BaseException:
                    if pool is not None:
                        pool.terminate()  # its feeder may be blocked on the in-flight limit
                    raise
                if pool is not None:
                    pool.close()
                    pool.join()
                if stats.documents_in == 0:
                    log.warning("no %s %s documents to clean", variant, genre)
                metrics.setdefault(variant, {})[genre] = stats.as_dict()

    metrics = {"corpus": metrics, "totals": _totals(metrics),
               "bad_records": dict(skipped.counts) if skipped else {}}
    return CleanResult(metrics=metrics, inputs=inputs, plot_rows=_plot_rows(metrics["corpus"]))


def _account(item: Cleaned, stats: GenreStats, exact_seen: dict[str, str], near: NearDuplicates, out: Any,
             rejects: Any, variant: str, split: str, genre: str) -> None:
    """Count one document, run the duplicate checks in input order, and write it or its rejection."""
    outcome = item.outcome
    stats.documents_in += 1
    stats.words_in += item.words_in
    for rule, words in outcome.words_removed.items():
        stats.words_removed[rule] += words
    rule, reason = outcome.rule, outcome.reason
    if item.exact_key is not None:
        if item.exact_key in exact_seen:
            rule, reason = "exact_dedup", f"same text as an earlier document ({exact_seen[item.exact_key]})"
        else:
            exact_seen[item.exact_key] = item.id
    if rule is None and item.signature is not None:
        earlier = near.is_duplicate(item.id, item.signature)
        if earlier is not None:
            rule, reason = "near_dedup", f"near duplicate of {earlier}"
    if rule is not None:
        stats.rejected[rule] += 1
        remaining = item.words_in - sum(outcome.words_removed.values())
        stats.words_removed[rule] += max(remaining, 0)
        rejects.write(dumps_line({"id": item.id, "variant": variant, "split": split, "genre": genre,
                                  "rule": rule, "reason": reason}))
        return
    stats.documents_out += 1
    stats.words_out += item.words_out
    out.write(dumps_line(outcome.record))


def _totals(corpus: dict[str, Any]) -> dict[str, Any]:
    totals = {}
    for variant, genres in corpus.items():
        totals[variant] = {key: sum(g[key] for g in genres.values())
                           for key in ("documents_in", "documents_out", "words_in", "words_out")}
        totals[variant]["rejected"] = {rule: sum(g["rejected"][rule] for g in genres.values()) for rule in RULES}
    return totals


def _plot_rows(corpus: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (variant/genre, rule) with the words and documents that rule removed."""
    return [{"genre": f"{variant}/{genre}", "rule": rule, "words_removed": stats["words_removed"][rule],
             "documents_rejected": stats["rejected"][rule]}
            for variant, genres in corpus.items() for genre, stats in genres.items() for rule in RULES]
