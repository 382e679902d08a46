"""Stage `instruct_data`: the instruction set in two variants with the same train / validation / test records.

    result = build_instruct_data(params.instruct_data, "data/instruct", simplify=params.simplify, llm=params.llm,
                                 sentences=params.sentences, hub_cache_dir=params.ingest.hub_cache_dir,
                                 release_dir="data/raw", word_list="data/vocab/word_list.txt")

1. Source (`instruct_data.source`): the bundled `data/sample/ori/instruction*.jsonl`, a local JSON/JSONL file in
   the Alpaca schema (`instruction`, `input`, `output`), or a hub dataset through `datasets`
   (`hf:yahma/alpaca-cleaned`, the paper's). A record missing a field or with a non-string one stops the stage
   naming its file:line before any work.
2. Id = the release's hash: sha256 of the non-empty instruction, input and output joined by spaces (spec §2.5).
   Records with an id seen before are dropped and counted (`duplicates`).
3. Leaner twin through the `simplify` backends (`instruct_data.backend`): `release` replays the published
   Leaner-Instruct record with the same hash from the ingested `<release_dir>/leaner/instruction.jsonl`;
   `llm` sends `simplify.prompts_dir`/instruction.txt to the endpoint and parses its three parts strictly;
   `rules` anonymises offline. A record whose twin fails (or is empty) is a reject with its reason; it is never
   kept as raw text with an empty output (the original's fallback, spec §2.5).
4. Splits: the kept ids in hash order; the first `validation_fraction` are validation, the next
   `test_fraction` test, the rest train. Both variants hold exactly the same ids per split (the original's
   leaner validation overlapped its train split and the two variants were cut differently, spec §9.16).

Outputs (one folder, replaced whole): `<variant>/<split>.jsonl` with `{id, instruction, input, output}`,
`rejects.jsonl` (`id`, `reason`, `origin`) and `stats.json` (the full accounting; metrics hold the headline).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyhelen.core.config import SentencesConfig
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_dir, dumps_line, iter_records, sha256_file, write_json
from tinyhelen.core.release import normalise_document
from tinyhelen.core.sentences import make_splitter
from tinyhelen.corpus.hub import is_hub_source, parse_hub_source
from tinyhelen.instruct.config import InstructDataConfig
from tinyhelen.simplify.backends import INSTRUCTION, WINDOW, GenreStats, make_backend
from tinyhelen.simplify.chunking import make_token_counter
from tinyhelen.simplify.config import LLMConfig, SimplifyConfig
from tinyhelen.tokens.vocab import TextStats

log = logging.getLogger(__name__)

#: `instruct_data.source: sample` reads these files, relative to the repo root.
SAMPLE_GLOB = ("data/sample/ori", "instruction[0-9]*.jsonl")
VARIANTS = ("ori", "leaner")
SPLITS = ("train", "validation", "test")
FIELDS = ("instruction", "input", "output")
#: Metrics per variant (from `tinyhelen.tokens.vocab.TextStats`), rounded to 4 decimals.
MEASURES = (
    "words",
    "vocabulary",
    "list_coverage",
    "oov_rate",
    "type_token_ratio",
    "mean_sentence_length",
    "flesch_reading_ease",
)


@dataclass
class InstructDataResult:
    metrics: dict[str, Any]
    inputs: dict[str, str]
    source: dict[str, Any]


def record_id(instruction: str, input_: str, output: str) -> str:
    """The release's instruction hash: sha256 of the non-empty parts joined by spaces."""
    return normalise_document(
        {"instruction": instruction, "input": input_, "output": output},
        variant="ori",
        genre=INSTRUCTION,
        split="all",
        budget_dir="",
        origin="",
    )["id"]


def _normalise(raw: Any, origin: str) -> dict[str, Any]:
    if isinstance(raw, dict) and "input" not in raw and "instruction" in raw and "output" in raw:
        raw = {**raw, "input": ""}  # some Alpaca exports drop empty inputs
    try:
        return normalise_document(raw, variant="ori", genre=INSTRUCTION, split="all", budget_dir="", origin=origin)
    except ValueError as error:
        raise DataError(f"{origin}: {error} (expected the Alpaca schema: instruction, input, output)") from None


def _hub_rows(source: str, split: str, cache_dir: str | None) -> Iterator[tuple[str, Any]]:
    """Rows of a hub dataset through `datasets` (offline runs use its cache; tests a local stand-in)."""
    import datasets

    repo_id, revision = parse_hub_source(source)
    if revision is None:
        log.warning("instruct_data.source=%s has no @revision: pin one to make the run repeatable", source)
    try:
        rows = datasets.load_dataset(repo_id, revision=revision, split=split, cache_dir=cache_dir)
    except Exception as error:  # noqa: BLE001 (network, auth, not found, schema: all stop the stage here)
        raise DataError(f"instruct_data.source={source}: cannot load split {split!r}: {error}") from None
    for number, row in enumerate(rows, start=1):
        yield f"{source}[{split}#{number}]", row


def source_files(cfg: InstructDataConfig) -> list[Path]:
    """The local files the source names (empty for a hub source)."""
    if is_hub_source(cfg.source):
        return []
    if cfg.source == "sample":
        folder, pattern = SAMPLE_GLOB
        files = sorted(Path(folder).glob(pattern))
        if not files:
            raise DataError(f"instruct_data.source=sample: no {folder}/{pattern}")
        return files
    path = Path(cfg.source)
    if not path.is_file():
        raise DataError(
            f"instruct_data.source={cfg.source}: no such file (a .json array or .jsonl in the Alpaca schema)"
        )
    return [path]


def read_source(cfg: InstructDataConfig, cache_dir: str | None = None) -> tuple[list[dict], dict[str, str]]:
    """Every source record, normalised (`id`, `instruction`, `input`, `output`, `text`, `origin`), capped by
    `max_records`; and the SHA-256 of the local files read."""
    files = source_files(cfg)
    inputs = {str(path): sha256_file(path) for path in files}

    def raw_rows() -> Iterator[tuple[str, Any]]:
        if is_hub_source(cfg.source):
            yield from _hub_rows(cfg.source, cfg.hub_split, cache_dir)
        for path in files:
            yield from iter_records(path)

    records = []
    for origin, raw in raw_rows():
        if cfg.max_records and len(records) >= cfg.max_records:
            break
        records.append(_normalise(raw, origin))
    if not records:
        raise DataError(f"instruct_data.source={cfg.source}: no instruction records")
    return records, inputs


def dedup(records: list[dict]) -> tuple[list[dict], int]:
    """The first record of every id, in source order, and the number of duplicates dropped."""
    seen: set[str] = set()
    kept = []
    for record in records:
        if record["id"] not in seen:
            seen.add(record["id"])
            kept.append(record)
    return kept, len(records) - len(kept)


def split_counts(total: int, validation_fraction: float, test_fraction: float) -> dict[str, int]:
    """Records per split: each evaluation split gets round(fraction * total), at least 1 when its fraction > 0."""

    def size(fraction: float) -> int:
        return max(1, round(fraction * total)) if fraction > 0 else 0

    validation, test = size(validation_fraction), size(test_fraction)
    if validation + test >= total:
        raise DataError(
            f"only {total} instruction records kept: too few for {validation} validation and "
            f"{test} test records and a train split"
        )
    return {"train": total - validation - test, "validation": validation, "test": test}


def assign_splits(ids: list[str], validation_fraction: float, test_fraction: float) -> dict[str, str]:
    """id -> split: the ids in hash order, validation first, then test, the rest train."""
    counts = split_counts(len(ids), validation_fraction, test_fraction)
    ordered = sorted(ids)
    bounds = {
        "validation": (0, counts["validation"]),
        "test": (counts["validation"], counts["validation"] + counts["test"]),
        "train": (counts["validation"] + counts["test"], len(ordered)),
    }
    return {doc_id: split for split, (start, end) in bounds.items() for doc_id in ordered[start:end]}


def _plain(record: dict[str, Any]) -> dict[str, str]:
    return {"id": record["id"], **{key: record[key] for key in FIELDS}}


def leaner_twins(records: list[dict], backend) -> tuple[dict[str, dict], dict[str, str], GenreStats]:
    """id -> leaner record for the records whose twin succeeded; id -> reject reason for the others."""
    stats = GenreStats()
    twins: dict[str, dict] = {}
    rejected: dict[str, str] = {}
    for start in range(0, len(records), WINDOW):
        window = records[start : start + WINDOW]
        for record, outcome in zip(window, backend.run("all", INSTRUCTION, window, stats), strict=True):
            twin = outcome.record
            if twin is None:
                rejected[record["id"]] = outcome.reason or "failed"
            elif not str(twin.get("instruction", "")).strip() or not str(twin.get("output", "")).strip():
                rejected[record["id"]] = "empty_output"
            else:
                twins[record["id"]] = {**_plain(twin), "id": record["id"]}
    return twins, rejected, stats


def build_instruct_data(
    cfg: InstructDataConfig,
    out_dir: str | Path,
    *,
    simplify: SimplifyConfig,
    llm: LLMConfig,
    sentences: SentencesConfig,
    hub_cache_dir: str | None = None,
    release_dir: str | Path,
    word_list: str | Path,
    backend=None,
) -> InstructDataResult:
    """Read, dedup, simplify, split and measure the instruction set; see the module docstring.

    Args:
        cfg: the `instruct_data` section.
        simplify, llm: the sections the `llm` and `rules` backends use (prompts, rules, the endpoint).
        sentences: the sentence splitter (the backends and the text measures).
        hub_cache_dir: `ingest.hub_cache_dir`, for a hub source.
        out_dir: the output folder (replaced whole on success).
        release_dir: the ingest stage's folder, holding `leaner/instruction.jsonl` (backend `release`).
        word_list: the reference word list (one word a line: the vocab stage's `data/vocab/word_list.txt`).
        backend: a ready backend (tests); default from `instruct_data.backend`.
    """
    word_list = Path(word_list)
    if not word_list.is_file():
        raise DataError(f"{word_list}: no reference word list (run the vocab stage first)")
    listed = frozenset(w for w in word_list.read_text(encoding="utf-8").split() if w)
    count_tokens = make_token_counter(cfg.token_counter)
    records, inputs = read_source(cfg, hub_cache_dir)
    inputs[str(word_list)] = sha256_file(word_list)
    unique, duplicates = dedup(records)
    backend = backend or make_backend(cfg.backend, simplify, llm, sentences, release_dir, templates=[INSTRUCTION])
    usable = [r for r in unique if r["instruction"].strip() and r["output"].strip()]
    twins, rejected, stats = leaner_twins(usable, backend)
    rejected.update({r["id"]: "empty_source" for r in unique if r not in usable})
    inputs.update(backend.inputs)
    kept = [record for record in unique if record["id"] in twins]
    splits = assign_splits([record["id"] for record in kept], cfg.validation_fraction, cfg.test_fraction)
    variants = {"ori": {doc["id"]: _plain(doc) for doc in kept}, "leaner": twins}

    split_sentences = make_splitter(sentences)
    accounting: dict[str, Any] = {}
    with atomic_dir(out_dir) as tmp:
        for variant in VARIANTS:
            pooled = TextStats(split_sentences)
            per_split: dict[str, dict[str, int]] = {}
            (tmp / variant).mkdir()
            for split in SPLITS:
                ids = sorted(doc_id for doc_id, name in splits.items() if name == split)
                tokens = 0
                with open(tmp / variant / f"{split}.jsonl", "w", encoding="utf-8") as handle:
                    for doc_id in ids:
                        record = variants[variant][doc_id]
                        handle.write(dumps_line(record))
                        text = " ".join(record[key] for key in FIELDS if record[key])
                        tokens += count_tokens(text)
                        pooled.add(text)
                per_split[split] = {"records": len(ids), "tokens": tokens}
            measured = pooled.metrics(listed)
            accounting[variant] = {
                "records": len(kept),
                "tokens": sum(s["tokens"] for s in per_split.values()),
                **{
                    key: round(measured[key], 4) if isinstance(measured[key], float) else measured[key]
                    for key in MEASURES
                },
                "splits": per_split,
            }
        by_id = {record["id"]: record for record in unique}
        with open(tmp / "rejects.jsonl", "w", encoding="utf-8") as handle:
            for doc_id, reason in rejected.items():
                handle.write(dumps_line({"id": doc_id, "reason": reason, "origin": by_id[doc_id]["origin"]}))
        reasons = dict(sorted(Counter(rejected.values()).items()))
        metrics = {
            "backend": cfg.backend,
            "source_records": len(records),
            "duplicates": duplicates,
            "rejected": len(rejected),
            "kept": len(kept),
            "splits": {split: sum(1 for name in splits.values() if name == split) for split in SPLITS},
            "variants": {
                variant: {key: value for key, value in item.items() if key != "splits"}
                for variant, item in accounting.items()
            },
        }
        write_json(
            tmp / "stats.json",
            {
                **metrics,
                "reject_reasons": reasons,
                "variants": accounting,
                "word_list": {"path": str(word_list), "size": len(listed)},
                "token_counter": cfg.token_counter,
                "llm": {
                    "calls": stats.calls.calls,
                    "cache_hits": stats.calls.cache_hits,
                    "input_tokens": stats.calls.input_tokens,
                    "output_tokens": stats.calls.output_tokens,
                },
            },
        )
    metrics["reject_reasons"] = reasons
    log.info(
        "instruct_data (%s): %d records, %d duplicates, %d rejected (%s), kept %d: %s",
        cfg.backend,
        len(records),
        duplicates,
        len(rejected),
        ", ".join(f"{k} {v}" for k, v in reasons.items()) or "-",
        len(kept),
        metrics["splits"],
    )
    source = {"source": cfg.source, "revision": parse_hub_source(cfg.source)[1] if is_hub_source(cfg.source) else None}
    return InstructDataResult(metrics=metrics, inputs=inputs, source=source)
