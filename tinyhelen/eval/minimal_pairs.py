"""Minimal-pair suites: Zorro paradigm files and BLiMP JSON Lines, from a local folder or the hub.

    pairs = load_pairs("../shared/zorro")                 # format auto: *.txt -> zorro, *.jsonl -> blimp
    pairs = load_pairs("hf:nyu-mll/blimp", paradigms=["anaphor_gender_agreement"])

Zorro: one file per paradigm, `<phenomenon>-<paradigm>.txt`; odd lines (1, 3, ...) ungrammatical, even lines
their grammatical partners (line 2k pairs with line 2k-1). The phenomenon is the name up to the LAST hyphen
(`filler-gap-wh_question_object` -> `filler-gap`), the paradigm is the whole file stem.
BLiMP: JSON Lines records with `sentence_good` / `sentence_bad` (and `UID`, `linguistics_term` when present:
the paradigm and phenomenon; otherwise the file stem). The hub source `hf:nyu-mll/blimp[@revision]` loads every
config (one per paradigm) through `datasets` and feeds its rows through the same record reader as a local file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyhelen.core.errors import BadRecordError, DataError
from tinyhelen.core.io import iter_jsonl

log = logging.getLogger(__name__)

#: `probe.source: sample` reads this folder, relative to the repo root.
SAMPLE_DIR = Path("data/sample/probe")
HUB_PREFIX = "hf:"
FORMATS = ("auto", "zorro", "blimp")


@dataclass(frozen=True)
class MinimalPair:
    """One minimal pair: the grammatical sentence must score higher than the ungrammatical one."""

    paradigm: str
    phenomenon: str
    good: str
    bad: str
    origin: str
    """Where it came from: `file:line` (line of the grammatical sentence) or `hf:<repo>/<config>[#row]`."""


def zorro_phenomenon(paradigm: str) -> str:
    """`agreement_subject_verb-in_simple_question` -> `agreement_subject_verb` (the name up to the last '-')."""
    return paradigm.rsplit("-", 1)[0] if "-" in paradigm else paradigm


def read_zorro_file(path: Path) -> list[MinimalPair]:
    """The pairs of one Zorro paradigm file.

    Raises:
        DataError: an empty line (`file:line`), or an odd number of lines (`file:line` of the unpaired one).
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(
                f"{path}:{number}: empty line (every line is a sentence; odd lines ungrammatical, "
                "even lines their grammatical partners)"
            )
    if not lines:
        raise DataError(f"{path}: no sentences")
    if len(lines) % 2:
        raise DataError(
            f"{path}:{len(lines)}: odd number of lines ({len(lines)}): the last ungrammatical "
            "sentence has no grammatical partner"
        )
    paradigm = path.stem
    phenomenon = zorro_phenomenon(paradigm)
    return [
        MinimalPair(paradigm, phenomenon, good=lines[i + 1].strip(), bad=lines[i].strip(), origin=f"{path}:{i + 2}")
        for i in range(0, len(lines), 2)
    ]


def blimp_pair(record: Any, origin: str, default_paradigm: str) -> MinimalPair:
    """One BLiMP record as a pair (local files and hub rows both come through here)."""
    if not isinstance(record, dict):
        raise BadRecordError(f"{origin}: a BLiMP record is an object, got {type(record).__name__}")
    for key in ("sentence_good", "sentence_bad"):
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            raise BadRecordError(f"{origin}: missing or empty '{key}'")
    paradigm = record.get("UID") or default_paradigm
    phenomenon = record.get("linguistics_term") or paradigm
    return MinimalPair(
        str(paradigm), str(phenomenon), record["sentence_good"].strip(), record["sentence_bad"].strip(), origin
    )


def read_blimp_file(path: Path) -> list[MinimalPair]:
    """The pairs of one BLiMP `.jsonl` file (`file:line` errors for malformed lines)."""
    return [blimp_pair(record, f"{path}:{lineno}", path.stem) for lineno, record in iter_jsonl(path)]


def read_blimp_rows(rows: Iterable[Any], origin: str, default_paradigm: str) -> list[MinimalPair]:
    """The pairs of an iterable of BLiMP rows (a `datasets.Dataset`), origins `<origin>#<row>`."""
    return [blimp_pair(row, f"{origin}#{number}", default_paradigm) for number, row in enumerate(rows)]


def detect_format(folder: Path) -> str:
    """`zorro` for a folder of `.txt` paradigm files, `blimp` for `.jsonl` files."""
    has_txt, has_jsonl = any(folder.glob("*.txt")), any(folder.glob("*.jsonl"))
    if has_txt and has_jsonl:
        raise DataError(f"{folder}: holds both .txt (Zorro) and .jsonl (BLiMP) files; set probe.format")
    if has_txt:
        return "zorro"
    if has_jsonl:
        return "blimp"
    raise DataError(f"{folder}: no minimal-pair files (*.txt in Zorro format or *.jsonl in BLiMP format)")


def _select(names: list[str], paradigms: list[str], where: str) -> list[str]:
    if not paradigms:
        return names
    missing = [p for p in paradigms if p not in names]
    if missing:
        raise DataError(
            f"{where}: no paradigm(s) {missing} (probe.paradigms); it has {len(names)}: "
            f"{names[:8]}{' ...' if len(names) > 8 else ''}"
        )
    return [n for n in names if n in paradigms]


def _read_folder(folder: Path, fmt: str, paradigms: list[str]) -> Iterator[MinimalPair]:
    if not folder.is_dir():
        raise DataError(f"{folder}: no such minimal-pair folder (probe.source)")
    fmt = detect_format(folder) if fmt == "auto" else fmt
    suffix = ".txt" if fmt == "zorro" else ".jsonl"
    files = {p.stem: p for p in sorted(folder.glob(f"*{suffix}"))}
    if not files:
        raise DataError(f"{folder}: no *{suffix} files for format {fmt!r}")
    reader = read_zorro_file if fmt == "zorro" else read_blimp_file
    for name in _select(list(files), paradigms, str(folder)):
        yield from reader(files[name])


def _read_hub(source: str, paradigms: list[str], cache_dir: str | None) -> Iterator[MinimalPair]:
    import datasets

    repo, _, revision = source[len(HUB_PREFIX) :].partition("@")
    revision = revision or None
    configs = sorted(datasets.get_dataset_config_names(repo, revision=revision))
    for name in _select(configs, paradigms, source):
        rows = datasets.load_dataset(repo, name, split="train", revision=revision, cache_dir=cache_dir)
        yield from read_blimp_rows(rows, f"{HUB_PREFIX}{repo}/{name}", name)


def resolve_source(source: str) -> str:
    """`sample` -> the bundled folder; anything else unchanged."""
    return str(SAMPLE_DIR) if source == "sample" else source


def load_pairs(
    source: str,
    fmt: str = "auto",
    *,
    paradigms: list[str] | None = None,
    max_pairs: int = 0,
    cache_dir: str | None = None,
) -> list[MinimalPair]:
    """Read a minimal-pair suite.

    Args:
        source: `sample`, a local folder, or `hf:<repo>[@revision]` (BLiMP layout: one config per paradigm).
        fmt: `auto` | `zorro` | `blimp` (the hub is always BLiMP).
        paradigms: only these paradigms (file stems / config names); None or empty = all.
        max_pairs: at most this many pairs per paradigm, the first ones (0 = all).
        cache_dir: the `datasets` cache for the hub (None = its default).

    Raises:
        DataError: a missing folder, an unknown paradigm, a malformed file (naming file and line).
    """
    if fmt not in FORMATS:
        raise DataError(f"unknown minimal-pair format {fmt!r}; expected one of {FORMATS}")
    source = resolve_source(source)
    paradigms = list(paradigms or [])
    if source.startswith(HUB_PREFIX):
        if fmt == "zorro":
            raise DataError(f"{source}: hub sources are read in BLiMP format, not Zorro")
        pairs = list(_read_hub(source, paradigms, cache_dir))
    else:
        pairs = list(_read_folder(Path(source), fmt, paradigms))
    if max_pairs:
        kept: dict[str, int] = {}
        selected = []
        for pair in pairs:
            if kept.get(pair.paradigm, 0) < max_pairs:
                kept[pair.paradigm] = kept.get(pair.paradigm, 0) + 1
                selected.append(pair)
        pairs = selected
    log.info("%s: %d minimal pairs in %d paradigms", source, len(pairs), len({p.paradigm for p in pairs}))
    return pairs
