"""Tokenise composed corpora and pack them into fixed-length rows of uint16 token ids (spec §5.2-5.3, rebuilt).

Documents are encoded in batches (`tinyhelen.tokens.tokenizer.ChunkEncoder`: the Rust tokenizer's own ids, each
distinct whitespace-delimited chunk encoded once; `pack.workers` packs run in parallel processes); each gets
its family's document end token (`</s>`, `[SEP]`, `<sep>`) and the stream is cut into rows, crossing document
boundaries as the paper's `group_texts` did. Every row is framed as its family's model expects it, so a row
is exactly one `input_ids` row: causal `[block_size tokens]`, BERT `[CLS] ... [SEP]`, XLNet `... <sep> <cls>`.
The tail shorter than a row is dropped (and counted). Output per corpus and family:

    <out_dir>/<corpus>-<family>/<split>.bin     numpy memmap, uint16, shape [num_blocks, block_size]
    <out_dir>/<corpus>-<family>/index.json      block_size, num_blocks per split, dtype, vocab_size, family,
                                                special_ids, framing, tokenizer, documents, tokens

    rows = open_blocks("data/packed/leaner-causal", "train")  # tinyhelen.tokens.shards: [num_blocks, block_size]
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any

import numpy as np
from tokenizers import Tokenizer
from tqdm import tqdm

from tinyhelen.core.documents import iter_documents, training_text
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_dir, sha256_file, write_json
from tinyhelen.core.release import SPLITS
from tinyhelen.tokens.config import PackConfig
from tinyhelen.tokens.tokenizer import FAMILY_REGISTRY, ChunkEncoder, load_backend, load_path, special_ids

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/pack.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("block_size", "tokens", "packs.*.train.blocks")

DTYPE = np.uint16


@dataclass(frozen=True)
class Framing:
    """Token ids that end each document and open and close each row."""

    doc_end: int
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]

    @classmethod
    def for_family(cls, tokenizer: Tokenizer, family_name: str) -> Framing:
        family = FAMILY_REGISTRY[family_name]
        ids = [tokenizer.token_to_id(t) for t in (family.doc_end, *family.row_prefix, *family.row_suffix)]
        if None in ids:
            raise DataError(f"the tokenizer lacks the {family_name} framing tokens")
        return cls(ids[0], tuple(ids[1 : 1 + len(family.row_prefix)]), tuple(ids[1 + len(family.row_prefix) :]))

    def content_length(self, block_size: int) -> int:
        """Stream tokens per row once the row's own framing is in."""
        return block_size - len(self.prefix) - len(self.suffix)


def _batches(path: Path, size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for record in iter_documents(path, required=True):
        batch.append(training_text(record))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def frame_rows(stream: np.ndarray, framing: Framing, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut as many full rows as the stream holds and frame them; return (rows, the unused tail)."""
    content = framing.content_length(block_size)
    count = len(stream) // content
    rows = np.empty((count, block_size), dtype=DTYPE)
    start = len(framing.prefix)
    rows[:, :start] = framing.prefix
    rows[:, start : start + content] = stream[: count * content].reshape(count, content)
    rows[:, start + content :] = framing.suffix
    return rows, stream[count * content :]


def pack_split(
    path: Path, encoder: ChunkEncoder, framing: Framing, block_size: int, batch_documents: int, handle: IO[bytes]
) -> dict[str, int]:
    """Tokenise one composed split file and write its framed rows to `handle`.

    Returns:
        documents, tokens (document ends included), blocks, and dropped_tokens (the final partial row).
    """
    stats = {"documents": 0, "tokens": 0, "blocks": 0}
    tail = np.empty(0, dtype=DTYPE)
    for batch in _batches(path, batch_documents):
        stream = encoder.encode_stream(batch, framing.doc_end).astype(DTYPE)
        stats["documents"] += len(batch)
        stats["tokens"] += len(stream)
        rows, tail = frame_rows(np.concatenate([tail, stream]), framing, block_size)
        handle.write(rows.tobytes())
        stats["blocks"] += len(rows)
    stats["dropped_tokens"] = len(tail)
    return stats


def pack_corpus(
    cfg: PackConfig, composed_dir: Path, tokenizers_dir: Path, corpus: str, family: str, out_dir: Path
) -> dict[str, Any]:
    """Pack one corpus with one family's tokenizer into `out_dir` (every split's .bin plus index.json).

    Returns:
        Per split: documents, tokens, blocks, dropped tokens, seconds and tokens per second.
    """
    tokenizer = load_backend(tokenizers_dir / family)
    if tokenizer.get_vocab_size() > np.iinfo(DTYPE).max + 1:
        raise DataError(f"{tokenizers_dir / family}: {tokenizer.get_vocab_size()} ids do not fit uint16")
    framing = Framing.for_family(tokenizer, family)
    encoder = ChunkEncoder(tokenizer)
    block_size = cfg.block_size_for(family)
    index: dict[str, Any] = {
        "block_size": block_size,
        "num_blocks": {},
        "dtype": np.dtype(DTYPE).name,
        "vocab_size": tokenizer.get_vocab_size(),
        "family": family,
        "corpus": corpus,
        "special_ids": special_ids(tokenizer, family),
        "framing": {"doc_end": framing.doc_end, "row_prefix": list(framing.prefix), "row_suffix": list(framing.suffix)},
        "tokenizer": (tokenizers_dir / family).as_posix(),
        "documents": {},
        "tokens": {},
    }
    metrics: dict[str, Any] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        started = time.perf_counter()
        with open(out_dir / f"{split}.bin", "wb") as handle:
            stats = pack_split(
                composed_dir / corpus / f"{split}.jsonl", encoder, framing, block_size, cfg.batch_documents, handle
            )
        seconds = time.perf_counter() - started
        if stats["blocks"] == 0:
            log.warning(
                "%s-%s/%s: %d tokens make no full %d-token row", corpus, family, split, stats["tokens"], block_size
            )
        index["num_blocks"][split] = stats["blocks"]
        index["documents"][split] = stats["documents"]
        index["tokens"][split] = stats["tokens"]
        metrics[split] = {
            **stats,
            "seconds": round(seconds, 3),
            "tokens_per_second": round(stats["tokens"] / seconds) if seconds else None,
        }
    write_json(out_dir / "index.json", index)
    log.info("%s-%s: %s rows of %d tokens", corpus, family, index["num_blocks"], block_size)
    return metrics


def _pack_job(job: tuple) -> dict[str, Any]:
    return pack_corpus(*job)


@dataclass(frozen=True)
class PackResult:
    """What `pack` did: metrics for metrics/pack.json and input hashes for meta.json."""

    metrics: dict[str, Any]
    inputs: dict[str, str]


def pack(cfg: PackConfig, composed_dir: str | Path, tokenizers_dir: str | Path, out_dir: str | Path) -> PackResult:
    """Write one pack per (corpus, family), `cfg.workers` at a time: every split's framed rows plus index.json.

    Args:
        cfg: the `pack` params section.
        composed_dir: the `compose` stage's folder (`<corpus>/<split>.jsonl`).
        tokenizers_dir: the `tokenizer` stage's folder (`<family>/`).
        out_dir: written whole, atomically.

    Returns:
        Per pack and split: documents, tokens, blocks, dropped tokens and tokens per second; overall tokens
        per second of wall time.
    """
    composed_dir, tokenizers_dir = Path(composed_dir), Path(tokenizers_dir)
    inputs: dict[str, str] = {}
    for family in cfg.families:
        inputs[str(tokenizers_dir / family / "tokenizer.json")] = sha256_file(load_path(tokenizers_dir / family))
    for corpus in cfg.corpora:
        for split in SPLITS:
            path = composed_dir / corpus / f"{split}.jsonl"
            if not path.is_file():
                raise DataError(f"{path}: no such corpus file (run the `compose` stage first)")
            inputs[str(path)] = sha256_file(path)
    started = time.perf_counter()
    with atomic_dir(out_dir) as tmp:
        jobs = [
            (cfg, composed_dir, tokenizers_dir, corpus, family, tmp / f"{corpus}-{family}")
            for family in cfg.families
            for corpus in cfg.corpora
        ]
        if cfg.workers == 1:
            results = [_pack_job(job) for job in jobs]
        else:
            # Workers ignore Ctrl-C: the main process reports it in one line.
            with ProcessPoolExecutor(
                min(cfg.workers, len(jobs)),
                mp_context=get_context("fork"),
                initializer=signal.signal,
                initargs=(signal.SIGINT, signal.SIG_IGN),
            ) as pool:
                results = list(tqdm(pool.map(_pack_job, jobs), total=len(jobs), desc="pack", unit="pack"))
    seconds = time.perf_counter() - started
    packs = {f"{job[3]}-{job[4]}": result for job, result in zip(jobs, results, strict=False)}
    tokens = sum(split["tokens"] for result in results for split in result.values())
    block_size = cfg.block_size if isinstance(cfg.block_size, int) else cfg.block_size.model_dump()
    metrics = {
        "block_size": block_size,
        "workers": cfg.workers,
        "packs": packs,
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_second": round(tokens / seconds) if seconds else None,
    }
    return PackResult(metrics=metrics, inputs=inputs)
