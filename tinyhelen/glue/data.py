"""Leaner-GLUE task files, the skip rule, and pair encoding with a separator, tokenised once per tokenizer.

Files are the ingested `data/raw/glue/<task>_<split>.jsonl` (records: id, task, split, idx, label, the task's
text fields). A task needs its train and validation files; without either it is skipped with a reason
(the shared release lacks mnli, qnli, qqp and sst2 train). A missing test file only leaves test unscored.

Each task has one or more report columns: mnli has `mnli-m` (validation_matched / test_matched) and `mnli-mm`;
every other task one column named after it. Model selection uses the first column's validation split.

The original tokenizers had no pair template, so GLUE sentence pairs were glued together with no separator
(spec §3). `ensure_pair_separator` checks the tokenizer's pair encoding and, if no token separates the two
segments, adds its separator (sep, else eos) to the post-processor's pair template.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from tinyhelen.core.errors import BadRecordError, ConfigError
from tinyhelen.core.io import iter_jsonl
from tinyhelen.core.release import GLUE_FIELDS, GLUE_NUM_LABELS

log = logging.getLogger(__name__)

#: Report columns per task: (column, validation split, test split).
TASK_COLUMNS = {
    task: (
        (f"{task}-m", "validation_matched", "test_matched"),
        (f"{task}-mm", "validation_mismatched", "test_mismatched"),
    )
    if task == "mnli"
    else ((task, "validation", "test"),)
    for task in GLUE_FIELDS
}


@dataclass
class TaskData:
    """One task's examples: train records, and per column its validation and (optional) test records."""

    task: str
    train: list[dict[str, Any]]
    columns: dict[str, dict[str, list[dict[str, Any]] | None]]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        return GLUE_NUM_LABELS[self.task] == 1

    @property
    def num_labels(self) -> int:
        return GLUE_NUM_LABELS[self.task]


@dataclass
class EncodedSplit:
    """Token ids (and token type ids when the tokenizer makes them) with labels, ready for batching."""

    features: list[dict[str, list[int]]]
    labels: list[float] | list[int]


@dataclass
class EncodedTask:
    task: str
    num_labels: int
    train: EncodedSplit
    columns: dict[str, dict[str, EncodedSplit | None]]
    truncated: int = 0


def glue_source_dir(source: str, release_dir: str | Path, constructed_dir: str | Path) -> Path:
    """The folder of task files `glue.source` names: the ingested release or the constructed Leaner-GLUE.

    Raises:
        ConfigError: `constructed` but `glue_simplify` wrote no task files (it is off by default).
    """
    if source == "release":
        return Path(release_dir)
    folder = Path(constructed_dir)
    if not folder.is_dir() or not any(folder.glob("*_*.jsonl")):
        raise ConfigError(
            f"{folder}: glue.source is 'constructed' but there are no Leaner-GLUE task files here "
            "(run glue_simplify with glue_simplify.enabled: true, or use glue.source: release)"
        )
    return folder


def task_file(glue_dir: Path, task: str, split: str) -> Path:
    return Path(glue_dir) / f"{task}_{split}.jsonl"


def _subset(records: list[dict], limit: int) -> list[dict]:
    """At most `limit` records, chosen by a hash of their id so the choice never depends on file order."""
    if not limit or len(records) <= limit:
        return records
    ranked = sorted(records, key=lambda r: hashlib.sha256(str(r["id"]).encode()).hexdigest())[:limit]
    keep = {id(r) for r in ranked}
    return [r for r in records if id(r) in keep]


def read_split(path: Path, task: str) -> list[dict[str, Any]]:
    """Read one task file, checking every record has the task's text fields and a valid label."""
    records = []
    for lineno, record in iter_jsonl(path):
        where = f"{path}:{lineno}"
        if not isinstance(record, dict):
            raise BadRecordError(f"{where}: a GLUE record should be a JSON object")
        for key in GLUE_FIELDS[task]:
            if not isinstance(record.get(key), str):
                raise BadRecordError(f"{where}: {task} record needs a text field '{key}'")
        label = record.get("label")
        if GLUE_NUM_LABELS[task] == 1:
            valid = isinstance(label, (int, float)) and not isinstance(label, bool)
        else:
            valid = isinstance(label, int) and not isinstance(label, bool) and 0 <= label < GLUE_NUM_LABELS[task]
        if not valid:
            raise BadRecordError(f"{where}: bad {task} label {label!r}")
        records.append({**record, "id": record.get("id", f"{task}/{lineno}")})
    return records


def load_task(glue_dir: str | Path, task: str, max_train: int = 0, max_eval: int = 0) -> TaskData | str:
    """Load a task's files.

    Args:
        glue_dir: the folder of `<task>_<split>.jsonl` files.
        task: the GLUE task.
        max_train: keep at most this many train records (0: all).
        max_eval: keep at most this many records per validation/test file (0: all).

    Returns:
        The task's data, or a string saying why the task is skipped (a missing train or validation file).
    """
    glue_dir = Path(glue_dir)
    needed = [task_file(glue_dir, task, "train")] + [task_file(glue_dir, task, v) for _, v, _ in TASK_COLUMNS[task]]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        return f"missing {', '.join(missing)} in {glue_dir}"
    files = {"train": needed[0]}
    train = _subset(read_split(needed[0], task), max_train)
    if not train:
        return f"{needed[0]} has no examples"
    columns: dict[str, dict[str, list | None]] = {}
    for column, validation, test in TASK_COLUMNS[task]:
        columns[column] = {}
        for kind, split in (("validation", validation), ("test", test)):
            path = task_file(glue_dir, task, split)
            if not path.exists():
                log.warning("%s: no %s file (%s); it is left unscored", task, kind, path)
                columns[column][kind] = None
                continue
            files[split] = path
            records = _subset(read_split(path, task), max_eval)
            if not records and kind == "validation":
                return f"{path} has no examples"
            columns[column][kind] = records or None
    return TaskData(task=task, train=train, columns=columns, files=files)


def has_pair_separator(tokenizer: Any) -> bool:
    """Whether the tokenizer's pair encoding puts at least one special token between the two segments."""
    sequence_ids = tokenizer("a b", "c d").sequence_ids()
    last_a = max(i for i, s in enumerate(sequence_ids) if s == 0)
    first_b = min(i for i, s in enumerate(sequence_ids) if s == 1)
    return first_b - last_a > 1


def _pair_template(processor: dict | None, separator: str, separator_id: int) -> dict:
    special = {separator: {"id": separator, "ids": [separator_id], "tokens": [separator]}}
    sep_piece = {"SpecialToken": {"id": separator, "type_id": 0}}
    if processor is None:
        return {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, sep_piece, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": special,
        }
    if processor["type"] == "TemplateProcessing":
        pair = list(processor["pair"])
        at = next(i for i, piece in enumerate(pair) if piece.get("Sequence", {}).get("id") == "B")
        pair.insert(at, sep_piece)
        return {**processor, "pair": pair, "special_tokens": {**processor["special_tokens"], **special}}
    if processor["type"] == "Sequence":
        children = processor["processors"]
        templates = [i for i, child in enumerate(children) if child["type"] == "TemplateProcessing"]
        if templates:
            children = list(children)
            children[templates[0]] = _pair_template(children[templates[0]], separator, separator_id)
            return {**processor, "processors": children}
        return {**processor, "processors": [*children, _pair_template(None, separator, separator_id)]}
    return {"type": "Sequence", "processors": [processor, _pair_template(None, separator, separator_id)]}


def ensure_pair_separator(tokenizer: Any) -> bool:
    """Make the tokenizer put a separator between sentence pairs; returns True if it had to add one.

    Raises:
        ConfigError: the tokenizer has neither a sep nor an eos token to separate with.
    """
    if has_pair_separator(tokenizer):
        return False
    separator = tokenizer.sep_token or tokenizer.eos_token
    if separator is None:
        raise ConfigError(
            f"tokenizer {tokenizer.name_or_path}: its pair encoding has no separator, and it has "
            "no sep or eos token to add one"
        )
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    spec["post_processor"] = _pair_template(
        spec["post_processor"], separator, tokenizer.convert_tokens_to_ids(separator)
    )
    tokenizer._tokenizer = Tokenizer.from_str(json.dumps(spec))
    log.warning(
        "tokenizer %s: its pair encoding had no separator; added %s between the sentences",
        tokenizer.name_or_path,
        separator,
    )
    if not has_pair_separator(tokenizer):
        raise ConfigError(f"tokenizer {tokenizer.name_or_path}: could not add a pair separator")
    return True


def _encode(tokenizer: Any, task: str, records: list[dict], max_length: int) -> tuple[EncodedSplit, int]:
    fields = GLUE_FIELDS[task]
    texts = [[r[f] for r in records] for f in fields]
    encoded = tokenizer(*texts, truncation=True, max_length=max_length)
    full = tokenizer(*texts, truncation=False)
    truncated = sum(len(a) > len(b) for a, b in zip(full["input_ids"], encoded["input_ids"], strict=True))
    keys = [k for k in ("input_ids", "token_type_ids") if k in encoded]
    features = [{k: encoded[k][i] for k in keys} for i in range(len(records))]
    labels = [float(r["label"]) if GLUE_NUM_LABELS[task] == 1 else int(r["label"]) for r in records]
    return EncodedSplit(features, labels), truncated


def encode_task(tokenizer: Any, data: TaskData, max_length: int) -> EncodedTask:
    """Tokenise every split of a task once (pairs as `A <sep> B` in the tokenizer's own framing).

    Args:
        tokenizer: a fast tokenizer whose pair template has a separator (see `ensure_pair_separator`).
        data: the task's records.
        max_length: the longest encoding, specials included; pairs are truncated longest-first.
    """
    train, truncated = _encode(tokenizer, data.task, data.train, max_length)
    columns: dict[str, dict[str, EncodedSplit | None]] = {}
    for column, parts in data.columns.items():
        columns[column] = {}
        for kind, records in parts.items():
            if records is None:
                columns[column][kind] = None
                continue
            columns[column][kind], cut = _encode(tokenizer, data.task, records, max_length)
            truncated += cut
    if truncated:
        log.info("%s: %d examples truncated to %d tokens", data.task, truncated, max_length)
    return EncodedTask(data.task, data.num_labels, train, columns, truncated)
