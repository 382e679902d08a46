"""The clean stage over a whole corpus: stream data/raw, clean in worker processes, deduplicate in order.

    data/clean/<variant>/<split>/<genre>.jsonl     cleaned records, same ids, same order
    data/clean/<variant>/instruction.jsonl
    data/clean/rejects.jsonl                       {id, variant, split, genre, rule, reason, origin[, duplicate_of]}

First, for the genres with the boilerplate rule, a pass counts short lines across each (variant, genre)'s
documents (cross-document boilerplate), while the workers start and load the language model. Then every
file, in the order variant, genre, split (train, validation, test), is streamed as raw lines through one
process pool (`imap`, so order is kept, and no pause between files): the workers decode, apply the rules,
encode the cleaned record and compute its dedup keys and MinHash signature; the main process drops exact
and near duplicates per (variant, genre), keeping the first occurrence, and writes bytes. Duplicates are
therefore found across splits too (a test document that repeats a training document is removed from test),
and the output does not depend on the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.documents import corpus_file, instruction_file
from tinyhelen.core.errors import BadRecordError
from tinyhelen.core.io import (
    SkipCounter,
    atomic_dir,
    decode_line,
    encode_line,
    handle_bad_record,
    sha256_file,
)
from tinyhelen.corpus.clean_rules import Outcome, clean_document, line_key
from tinyhelen.corpus.config import CleanConfig, DataConfig
from tinyhelen.corpus.dedup import NearDuplicates, count_words, exact_key, normalized_text
from tinyhelen.corpus.language import preload_language_model

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/clean.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("totals", "bad_records")

RULES = ("unicode", "markup", "boilerplate", "private_data", "language", "length", "exact_dedup", "near_dedup")
_REQUIRED = {"id": str, "genre": str, "text": str}
# A task sent to a worker holds at most this many documents and about `_batch_bytes` of input. Big tasks keep
# this process's share of the work (one hand-over per task) small: on the 10M corpus, 2 MB tasks clean ~25%
# faster than 100 kB ones; but each worker should still get several, so that none waits at the end.
_BATCH = 512
_BATCH_BYTES = (100_000, 2_000_000)
_MIN_POOL_BYTES = 500_000

# Worker state, set once per process by `_init_worker`.
_STATE: dict[str, Any] = {}


def _init_pool_worker(cfg: CleanConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle (one line, no traces)
    _init_worker(cfg)


def _init_worker(cfg: CleanConfig) -> None:
    _STATE.update(cfg=cfg, near=NearDuplicates(cfg.near_dedup.num_perm, cfg.near_dedup.threshold))
    if cfg.language.enabled:
        preload_language_model()


@dataclass(frozen=True)
class _File:
    """One input file of the run and where its output goes."""

    variant: str
    genre: str
    split: str
    rel: Path  # relative to the variant folder, in and out
    path: Path  # the input


@dataclass
class Cleaned:
    """One input line after the per-document rules, with what deduplication, counting and writing need: it is
    all computed in the worker, so the main process only looks up, counts and writes bytes."""

    id: str
    outcome: Outcome
    line: bytes | None = None  # the cleaned record, encoded, if kept so far
    words_out: int = 0
    exact_key: str | None = None
    signature: Any = None
    error: BadRecordError | None = None  # a malformed input line (`path:line` and the problem)
    origin: str | None = None  # where the document comes from: the release's `file:line`, else data/raw's


def _check(record: Any, genre: str) -> str | None:
    """What is wrong with a data/raw record for cleaning, or None."""
    if not isinstance(record, dict):
        return "a record should be a JSON object"
    for key, kind in _REQUIRED.items():
        if not isinstance(record.get(key), kind):
            return f"missing or malformed '{key}'"
    if record["genre"] != genre:
        return f"genre '{record['genre']}' in the {genre} file"
    return None


def _clean_line(file: _File, common_lines: frozenset[str], lineno: int, line: bytes) -> Cleaned:
    cfg: CleanConfig = _STATE["cfg"]
    path, genre = file.path, file.genre
    try:
        record = decode_line(path, lineno, line)
    except BadRecordError as error:
        return Cleaned(id="", outcome=Outcome(record=None), error=error)
    problem = _check(record, genre)
    if problem is not None:
        error = BadRecordError(f"{path}:{lineno}: {problem}")
        return Cleaned(id="", outcome=Outcome(record=None), error=error)
    outcome = clean_document(record, cfg, common_lines)
    origin = record.get("origin") if isinstance(record.get("origin"), str) else f"{path}:{lineno}"
    result = Cleaned(id=record["id"], outcome=outcome, origin=origin)
    if outcome.record is not None:
        normalized = normalized_text(outcome.record["text"])
        result.line = encode_line(outcome.record)
        outcome.record = None  # the encoded line is all that travels back
        result.words_out = count_words(normalized)
        if outcome.words_in is None:  # the text came out unchanged
            outcome.words_in = result.words_out
        if cfg.exact_dedup.enabled:
            result.exact_key = exact_key(normalized)
        if cfg.near_dedup.enabled and genre in cfg.near_dedup.genres:
            result.signature = _STATE["near"].signature(normalized, cfg.near_dedup.shingle_size)
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
        return {
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "words_in": self.words_in,
            "words_out": self.words_out,
            "rejected": self.rejected,
            "words_removed": self.words_removed,
        }


@dataclass
class CleanResult:
    """Metrics for metrics/clean.json, input hashes for meta.json, rows for the removal plot."""

    metrics: dict[str, Any]
    inputs: dict[str, str]
    plot_rows: list[dict[str, Any]]


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a data/raw file (plain JSON Lines, written by ingest), with their numbers."""
    with open(path, "rb") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.isspace():
                yield lineno, line


def _common_lines(paths: list[Path], genre: str, cfg: CleanConfig) -> frozenset[str]:
    """Short lines that occur in at least `min_docs` documents of the genre (malformed records are passed
    over here: the cleaning pass reports them)."""
    documents_with: dict[str, int] = {}
    max_words = cfg.boilerplate.max_words
    for path in paths:
        for lineno, line in _lines(path):
            try:
                record = decode_line(path, lineno, line)
            except BadRecordError:
                continue
            if _check(record, genre) is not None:
                continue
            keys = {line_key(text_line) for text_line in record["text"].split("\n")}
            for key in keys:
                if key and len(key.split()) <= max_words:
                    documents_with[key] = documents_with.get(key, 0) + 1
    return frozenset(k for k, n in documents_with.items() if n >= cfg.boilerplate.min_docs)


Task = tuple[int, _File, frozenset[str], list[tuple[int, bytes]]]  # (file number, file, common lines, lines)


def _clean_batch(task: Task) -> tuple[int, list[Cleaned]]:
    number, file, common_lines, lines = task
    return number, [_clean_line(file, common_lines, lineno, line) for lineno, line in lines]


def _outcomes(
    files: list[_File], common: dict[tuple[str, str], frozenset[str]], pool: Any, workers: int
) -> Iterator[tuple[int, Cleaned]]:
    """(file number, cleaned line) for every line of `files` (missing ones are passed over), in order;
    `common` holds the shared short lines of each (variant, genre) with the boilerplate rule.

    With a pool, batches of raw lines stream through `imap` (workers decode, clean and encode while this
    process deduplicates and writes); a semaphore keeps at most a few batches per worker in flight, so memory
    stays bounded.
    """
    present = [
        (number, file, common.get((file.variant, file.genre), frozenset()))
        for number, file in enumerate(files)
        if file.path.exists()
    ]
    if pool is None:
        for number, file, shared in present:
            for lineno, line in _lines(file.path):
                yield number, _clean_line(file, shared, lineno, line)
        return
    batch_bytes = _batch_bytes(sum(file.path.stat().st_size for _, file, _ in present), workers)
    in_flight = threading.BoundedSemaphore(4 * workers)
    stop = threading.Event()

    def may_send() -> bool:
        # Runs in the pool's feeder thread: blocks it, not us. Gives up once we stop (an error here), so that
        # `pool.terminate()`, which waits for the feeder, does not wait forever.
        while not in_flight.acquire(timeout=0.05):
            if stop.is_set():
                return False
        return True

    def batches() -> Iterator[Task]:
        # Batches are cut by size as well as count, so that a handful of book-length documents is still
        # shared between the workers.
        for number, file, shared in present:
            batch: list[tuple[int, bytes]] = []
            size = 0
            for lineno, line in _lines(file.path):
                batch.append((lineno, line))
                size += len(line)
                if len(batch) >= _BATCH or size >= batch_bytes:
                    if not may_send():
                        return
                    yield number, file, shared, batch
                    batch, size = [], 0
            if batch and may_send():
                yield number, file, shared, batch

    try:
        for number, results in pool.imap(_clean_batch, batches()):
            in_flight.release()
            for result in results:
                yield number, result
    finally:
        stop.set()


def _batch_bytes(total: int, workers: int) -> int:
    """Input bytes per task: about an eighth of each worker's share, within `_BATCH_BYTES`."""
    low, high = _BATCH_BYTES
    return max(low, min(high, total // (8 * workers)))


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
    groups = [(g, [(s, corpus_file(Path(), s, g)) for s in data.splits]) for g in data.genres]
    if data.instructions:
        groups.append(("instruction", [("all", instruction_file(Path()))]))
    files = [
        _File(variant, genre, split, rel, raw_dir / variant / rel)
        for variant in data.variants
        for genre, splits in groups
        for split, rel in splits
    ]

    # A pool pays off only on real volumes; either way the output is the same. It starts first, so that the
    # workers load the language model while this process hashes the inputs and counts shared lines.
    size = sum(f.path.stat().st_size for f in files if f.path.exists())
    workers = _workers(cfg) if size >= _MIN_POOL_BYTES else 1
    pool = multiprocessing.get_context("fork").Pool(workers, _init_pool_worker, (cfg,)) if workers > 1 else None
    if pool is None:
        _init_worker(cfg)
    stats: dict[tuple[str, str], _GenreState] = {}
    outcomes = None
    try:
        inputs = {f.path.relative_to(raw_dir).as_posix(): sha256_file(f.path) for f in files if f.path.exists()}
        common: dict[tuple[str, str], frozenset[str]] = {}
        if cfg.boilerplate.enabled:
            for variant in data.variants:
                for genre, _ in groups:
                    if genre in cfg.boilerplate.genres:
                        paths = [f.path for f in files if f.variant == variant and f.genre == genre and f.path.exists()]
                        common[(variant, genre)] = _common_lines(paths, genre, cfg)
        with atomic_dir(out_dir) as tmp, open(tmp / "rejects.jsonl", "wb") as rejects:
            outcomes = _outcomes(files, common, pool, workers)
            results = iter(tqdm(outcomes, desc="clean", unit="doc", disable=None, leave=False))
            pending = next(results, None)
            for number, file in enumerate(files):
                if (file.variant, file.genre) not in stats:
                    stats[file.variant, file.genre] = _GenreState(cfg)
                state = stats[file.variant, file.genre]
                out_path = tmp / file.variant / file.rel
                out_path.parent.mkdir(parents=True, exist_ok=True)
                if not file.path.exists():
                    log.warning("%s is missing: writing an empty %s", file.path, out_path.name)
                    out_path.touch()
                    continue
                with open(out_path, "wb") as out:
                    while pending is not None and pending[0] == number:
                        item = pending[1]
                        if item.error is not None:
                            handle_bad_record(item.error, file.path, skipped)
                        else:
                            _account(item, state, out, rejects, file)
                        pending = next(results, None)
    except BaseException:
        if outcomes is not None:
            outcomes.close()  # stops the feeder, which may be waiting for room in flight
        if pool is not None:
            pool.terminate()
        raise
    if pool is not None:
        pool.close()
        pool.join()

    metrics: dict[str, Any] = {}
    for (variant, genre), state in stats.items():
        if state.counts.documents_in == 0:
            log.warning("no %s %s documents to clean", variant, genre)
        metrics.setdefault(variant, {})[genre] = state.counts.as_dict()
    metrics = {"corpus": metrics, "totals": _totals(metrics), "bad_records": dict(skipped.counts) if skipped else {}}
    return CleanResult(metrics=metrics, inputs=inputs, plot_rows=_plot_rows(metrics["corpus"]))


class _GenreState:
    """Per (variant, genre): the counts and the documents seen so far (duplicates are found across splits)."""

    def __init__(self, cfg: CleanConfig) -> None:
        self.counts = GenreStats()
        self.exact_seen: dict[str, tuple[str, str | None]] = {}  # exact key -> (id, origin) of the first
        self.near = NearDuplicates(cfg.near_dedup.num_perm, cfg.near_dedup.threshold)


def _account(item: Cleaned, state: _GenreState, out: Any, rejects: Any, file: _File) -> None:
    """Count one document, run the duplicate checks in input order, and write it or its rejection."""
    outcome, stats = item.outcome, state.counts
    stats.documents_in += 1
    stats.words_in += outcome.words_in
    for rule, words in outcome.words_removed.items():
        stats.words_removed[rule] += words
    rule, reason = outcome.rule, outcome.reason
    duplicate_of = None
    if item.exact_key is not None:
        if item.exact_key in state.exact_seen:
            # The id is the text's hash, so a duplicate shares it: only the origins tell the two apart.
            earlier_id, earlier_origin = state.exact_seen[item.exact_key]
            duplicate_of = {"id": earlier_id, "origin": earlier_origin}
            rule, reason = "exact_dedup", f"same text as the document at {earlier_origin} ({earlier_id})"
        else:
            state.exact_seen[item.exact_key] = (item.id, item.origin)
    if rule is None and item.signature is not None:
        earlier = state.near.is_duplicate(item.id, item.signature)
        if earlier is not None:
            rule, reason = "near_dedup", f"near duplicate of {earlier}"
    if rule is not None:
        stats.rejected[rule] += 1
        remaining = outcome.words_in - sum(outcome.words_removed.values())
        stats.words_removed[rule] += max(remaining, 0)
        reject = {
            "id": item.id,
            "variant": file.variant,
            "split": file.split,
            "genre": file.genre,
            "rule": rule,
            "reason": reason,
            "origin": item.origin,
        }
        if duplicate_of is not None:
            reject["duplicate_of"] = duplicate_of
        rejects.write(encode_line(reject))
        return
    stats.documents_out += 1
    stats.words_out += item.words_out
    out.write(item.line)


def _totals(corpus: dict[str, Any]) -> dict[str, Any]:
    totals = {}
    for variant, genres in corpus.items():
        totals[variant] = {
            key: sum(g[key] for g in genres.values())
            for key in ("documents_in", "documents_out", "words_in", "words_out")
        }
        totals[variant]["rejected"] = {rule: sum(g["rejected"][rule] for g in genres.values()) for rule in RULES}
    return totals


def _plot_rows(corpus: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (variant/genre, rule) with the words and documents that rule removed."""
    return [
        {
            "genre": f"{variant}/{genre}",
            "rule": rule,
            "words_removed": stats["words_removed"][rule],
            "documents_rejected": stats["rejected"][rule],
        }
        for variant, genres in corpus.items()
        for genre, stats in genres.items()
        for rule in RULES
    ]
