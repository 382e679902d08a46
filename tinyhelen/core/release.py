"""The TinyHelen release layout and record schemas, and their normalised form.

Layout (spec §1.3); the bundled sample, a local copy and the hub repo all share it:

    ori/<budget>/<split>/<genre><NNNN>.jsonl[.zst]      conversation: .json[.zst], one JSON array of strings
    leaner/<budget>/<split>/<genre><NNNN>.jsonl          each record has `hash` = sha256 of its original text
    <variant>/instruction<NNNN>.jsonl                    leaner: Leaner-Instruct; ori: alpaca-style originals
    leaner/glue/<task>_<split>.jsonl                     mnli: _validation_matched, _test_mismatched, ...
    leaner/eval/<name>.jsonl                             Leaner-Eval questions

Every pre-training record is normalised to one schema (`normalise_document`): `id` (the release's `hash`
rule: sha256 of the processed original text, so ori and leaner records align by id), `variant`, `genre`,
`split`, `budget_dir`, `text`, the genre's structured fields, `meta` (the remaining source fields) and
`origin` (`file:line`). Schema violations raise `ValueError`; the reader turns them into `file:line` errors.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

GENRES = ("web", "book", "wiki", "textbook", "conversation", "code", "math")
NATURAL_GENRES = ("web", "book", "wiki", "textbook", "conversation")
SPLITS = ("train", "validation", "test")
VARIANTS = ("ori", "leaner")
GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli")
EVAL_SETS = ("all", "inner_comparison", "split-0-7", "split-7-8", "split-8-9", "split-9-10")

#: Budget name -> the incremental folders it reads ("100M" = the 10M folder plus the extra 90M).
BUDGET_DIRS = {
    "10M": ("10M",),
    "100M": ("10M", "100M"),
    "1B": ("10M", "100M", "1B"),
    "10B": ("10M", "100M", "1B", "10B"),
}

#: Readable file endings, most specific first.
EXTENSIONS = (".jsonl.zst", ".json.zst", ".jsonl", ".json")

#: GLUE: split file suffixes per task, and (text fields, label kind) per task.
GLUE_SPLITS = {
    task: (
        ("train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched")
        if task == "mnli"
        else ("train", "validation", "test")
    )
    for task in GLUE_TASKS
}
GLUE_FIELDS = {
    "cola": ("sentence",),
    "sst2": ("sentence",),
    "mrpc": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"),
    "stsb": ("sentence1", "sentence2"),
    "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
}
GLUE_NUM_LABELS = {"cola": 2, "sst2": 2, "mrpc": 2, "qqp": 2, "stsb": 1, "mnli": 3, "qnli": 2, "rte": 2, "wnli": 2}

_TAG = re.compile(r"<[^>]*>")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_text(text: str) -> str:
    """SHA-256 hex digest of the UTF-8 text: the release's `hash` (its `fixed_hash`)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def strip_tags(text: str) -> str:
    """Remove `<...>` tags and surrounding whitespace, as the release did to wiki values before hashing."""
    return _TAG.sub("", text).strip()


def _field(raw: dict, key: str, kind: type = str) -> Any:
    if key not in raw:
        raise ValueError(f"missing field '{key}'")
    value = raw[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"field '{key}' should be {kind.__name__}, got {type(value).__name__}")
    return value


def _string_list(raw: dict, key: str) -> list[str]:
    value = _field(raw, key, list)
    if not all(isinstance(item, str) for item in value):
        raise ValueError(f"field '{key}' should be a list of strings")
    return value


def instruction_text(instruction: str, input_: str, output: str) -> str:
    """The text an instruction record is hashed and trained on: its non-empty parts joined by spaces."""
    return " ".join(part for part in (instruction, input_, output) if part)


def _content(genre: str, variant: str, raw: Any) -> tuple[str, str, dict, set[str]]:
    """Return (text, processed original text or None, structured fields, consumed keys) of one raw record."""
    if genre == "conversation":
        if isinstance(raw, dict):  # leaner conversation: {"text", "hash"}
            return _field(raw, "text"), None, {}, {"text"}
        if not isinstance(raw, str):
            raise ValueError(f"a conversation should be a string, got {type(raw).__name__}")
        return raw, raw, {}, set()
    if not isinstance(raw, dict):
        raise ValueError(f"a record should be a JSON object, got {type(raw).__name__}")
    if genre in ("web", "book"):
        text = _field(raw, "text")
        return text, text, {}, {"text"}
    if genre == "wiki":
        if variant == "leaner":
            idx = _field(raw, "idx", int)
            return _field(raw, "text"), None, {"wiki_id": str(idx)}, {"idx", "text"}
        if len(raw) != 1:
            raise ValueError(f"an original wiki record should have one key (its id), got {len(raw)}")
        ((wiki_id, value),) = raw.items()
        if not isinstance(value, str):
            raise ValueError(f"wiki record '{wiki_id}' should map to a string")
        return value, strip_tags(value), {"wiki_id": wiki_id}, {wiki_id}
    if genre == "textbook":
        if variant == "leaner":
            fields = {"source_text": _field(raw, "original text")}
            return _field(raw, "text"), None, fields, {"text", "original text"}
        lesson = _field(raw, "textbook")
        return lesson, lesson, {"source_text": _field(raw, "text")}, {"text", "textbook"}
    if genre == "code":
        prompt, response = _field(raw, "prompt"), _field(raw, "response")
        fields = {"prompt": prompt, "response": response}
        return f"{prompt} {response}", f"{prompt} {response}", fields, {"prompt", "response"}
    if genre == "math":
        problem, hints = _field(raw, "problem"), _string_list(raw, "hints")
        text = problem + " " + " ".join(hints)
        return text, text, {"problem": problem, "hints": hints}, {"problem", "hints"}
    if genre == "instruction":
        parts = {key: _field(raw, key) for key in ("instruction", "input", "output")}
        text = instruction_text(parts["instruction"], parts["input"], parts["output"])
        return text, text, parts, set(parts)
    raise ValueError(f"unknown genre '{genre}'")


def normalise_document(
    raw: Any, *, variant: str, genre: str, split: str, budget_dir: str, origin: str
) -> dict[str, Any]:
    """Turn one raw release record into the normalised schema.

    Args:
        raw: the parsed JSON record (for original conversations, the string itself).
        variant: `ori` or `leaner`.
        genre: one of `GENRES` or `instruction`.
        split: the split it was read from (`all` for instructions).
        budget_dir: the budget folder it was read from (`10M`, `100M`, ...; empty for instructions).
        origin: `file:line` of the record, kept for provenance and error messages.

    Returns:
        The normalised record.

    Raises:
        ValueError: the record does not fit its genre's schema.
    """
    text, original, fields, consumed = _content(genre, variant, raw)
    if variant == "leaner" and genre != "math":
        # A leaner record is identified by the hash of the original it simplifies.
        doc_id = raw.get("hash") if isinstance(raw, dict) else None
        if not isinstance(doc_id, str) or not _HEX64.fullmatch(doc_id):
            raise ValueError("missing or malformed 'hash' (64 lower-case hex digits)")
        consumed = consumed | {"hash"}
    else:
        # Math is not simplified (leaner == ori), so both sides hash the same processed text.
        doc_id = sha256_text(original)
        consumed = consumed | {"hash"}
    meta = {k: v for k, v in raw.items() if k not in consumed} if isinstance(raw, dict) else {}
    return {
        "id": doc_id,
        "variant": variant,
        "genre": genre,
        "split": split,
        "budget_dir": budget_dir,
        "text": text,
        **fields,
        "meta": meta,
        "origin": origin,
    }


def normalise_glue(raw: Any, *, task: str, split: str, origin: str) -> dict[str, Any]:
    """Check one Leaner-GLUE record against its task's schema and tag it with task and split."""
    if not isinstance(raw, dict):
        raise ValueError(f"a record should be a JSON object, got {type(raw).__name__}")
    texts = {key: _field(raw, key) for key in GLUE_FIELDS[task]}
    idx = _field(raw, "idx", int)
    label = raw.get("label")
    if task == "stsb":
        if not isinstance(label, (int, float)) or isinstance(label, bool) or not 0 <= label <= 5:
            raise ValueError(f"stsb 'label' should be a number in [0, 5], got {label!r}")
        label = float(label)
    elif not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < GLUE_NUM_LABELS[task]:
        raise ValueError(f"{task} 'label' should be an integer in [0, {GLUE_NUM_LABELS[task] - 1}], got {label!r}")
    return {
        "id": f"{task}/{split}/{idx}",
        "task": task,
        "split": split,
        "idx": idx,
        "label": label,
        **texts,
        "origin": origin,
    }


def normalise_question(raw: Any, *, eval_set: str, origin: str) -> dict[str, Any]:
    """Check one Leaner-Eval question; its id is the release's `hash` (sha256 of the question) when present."""
    if not isinstance(raw, dict):
        raise ValueError(f"a record should be a JSON object, got {type(raw).__name__}")
    question = _field(raw, "question")
    doc_id = raw.get("hash") or sha256_text(question)
    if not isinstance(doc_id, str) or not _HEX64.fullmatch(doc_id):
        raise ValueError("malformed 'hash' (64 lower-case hex digits)")
    return {"id": doc_id, "eval_set": eval_set, "question": question, "source": raw.get("source"), "origin": origin}


def split_genre_file(name: str) -> tuple[str, str] | None:
    """`'web0003.jsonl.zst'` -> `('web', '.jsonl.zst')`; None if the name is not `<prefix><digits><ext>`."""
    for ext in EXTENSIONS:
        if name.endswith(ext):
            stem = name[: -len(ext)]
            prefix = stem.rstrip("0123456789")
            if prefix and prefix != stem:
                return prefix, ext
            return None
    return None
