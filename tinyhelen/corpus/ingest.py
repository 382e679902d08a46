"""Read a corpus in the TinyHelen release layout into normalised JSON Lines under `data/raw/`.

Outputs (all under `out_dir`, built in a temporary folder and renamed into place when complete):

    <variant>/<split>/<genre>.jsonl     one normalised document per line (see `tinyhelen.core.release`)
    <variant>/instruction.jsonl         instruction records
    glue/<task>_<split>.jsonl           Leaner-GLUE examples
    eval/<name>.jsonl                   Leaner-Eval questions

Every selected (variant, split, genre) gets a file, empty when the source has none, and what was missing,
damaged or skipped is reported in the metrics rather than crashing the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.documents import corpus_file, instruction_file
from tinyhelen.core.errors import BadRecordError, DamagedFileError, DataError
from tinyhelen.core.io import (
    SkipCounter,
    atomic_dir,
    dumps_line,
    handle_bad_record,
    iter_records,
    sha256_file,
)
from tinyhelen.core.release import (
    BUDGET_DIRS,
    GLUE_SPLITS,
    normalise_document,
    normalise_glue,
    normalise_question,
    split_genre_file,
)
from tinyhelen.corpus import hub
from tinyhelen.corpus.config import DataConfig, IngestConfig

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/ingest.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("source", "budget", "missing", "damaged", "bad_records")

#: `data.source: sample` reads this folder, relative to the repo root.
SAMPLE_DIR = Path("data/sample")


@dataclass(frozen=True)
class Group:
    """One output file and the release files (glob patterns relative to the layout root) that feed it."""

    kind: str  # corpus | instruction | glue | eval
    out: str  # output path relative to out_dir
    patterns: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def plan_groups(data: DataConfig) -> list[Group]:
    """Every output file the params select, with the release patterns that feed it, in a fixed order."""
    groups = []
    for variant in data.variants:
        for split in data.splits:
            for genre in data.genres:
                patterns = tuple(
                    f"{variant}/{budget_dir}/{split}/{genre}[0-9]*" for budget_dir in BUDGET_DIRS[data.budget]
                )
                groups.append(
                    Group(
                        "corpus",
                        corpus_file(Path(variant), split, genre).as_posix(),
                        patterns,
                        {"variant": variant, "split": split, "genre": genre},
                    )
                )
        if data.instructions:
            groups.append(
                Group(
                    "instruction",
                    instruction_file(Path(variant)).as_posix(),
                    (f"{variant}/instruction[0-9]*",),
                    {"variant": variant},
                )
            )
    for task in data.glue_tasks:
        for split in GLUE_SPLITS[task]:
            groups.append(
                Group(
                    "glue",
                    f"glue/{task}_{split}.jsonl",
                    (f"leaner/glue/{task}_{split}.jsonl",),
                    {"task": task, "split": split},
                )
            )
    for name in data.eval_sets:
        groups.append(Group("eval", f"eval/{name}.jsonl", (f"leaner/eval/{name}.jsonl",), {"name": name}))
    return groups


def resolve_source(data: DataConfig, ingest: IngestConfig, groups: list[Group]) -> tuple[Path, dict[str, Any]]:
    """Find (or download) the folder holding the release layout; return it and a description of the source."""
    if hub.is_hub_source(data.source):
        patterns = sorted({p for group in groups for p in group.patterns})
        root, sha = hub.fetch_release(data.source, patterns, ingest.hub_cache_dir)
        return root, {"source": data.source, "revision": sha}
    root = SAMPLE_DIR if data.source == "sample" else Path(data.source)
    if not root.is_dir():
        raise DataError(f"data.source={data.source}: no such folder ({root.resolve()})")
    if not any((root / variant).is_dir() for variant in ("ori", "leaner")):
        raise DataError(
            f"data.source={data.source}: {root} has no 'ori/' or 'leaner/' folder "
            "(expected the TinyHelen release layout)"
        )
    return root, {"source": data.source, "revision": None}


def _matching_files(root: Path, pattern: str) -> list[Path]:
    """Release files for one pattern: `<prefix><digits><known extension>`, sorted by name."""
    folder, _, name_glob = pattern.rpartition("/")
    if not name_glob.endswith("[0-9]*"):
        path = root / pattern
        return [path] if path.is_file() else []
    prefix = name_glob.removesuffix("[0-9]*")
    directory = root / folder
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and (split_genre_file(p.name) or ("", ""))[0] == prefix)


def _normaliser(group: Group, budget_dir: str) -> Callable[[Any, str], dict[str, Any]]:
    labels = group.labels
    if group.kind == "corpus":
        return lambda raw, origin: normalise_document(
            raw,
            variant=labels["variant"],
            genre=labels["genre"],
            split=labels["split"],
            budget_dir=budget_dir,
            origin=origin,
        )
    if group.kind == "instruction":
        return lambda raw, origin: normalise_document(
            raw, variant=labels["variant"], genre="instruction", split="all", budget_dir="", origin=origin
        )
    if group.kind == "glue":
        return lambda raw, origin: normalise_glue(raw, task=labels["task"], split=labels["split"], origin=origin)
    return lambda raw, origin: normalise_question(raw, eval_set=labels["name"], origin=origin)


class _Reader:
    """Reads release files into normalised records, applying the bad-record and damage policies."""

    def __init__(self, root: Path, data: DataConfig) -> None:
        self.root = root
        self.data = data
        self.skipped = SkipCounter()
        self.damaged: list[dict[str, Any]] = []
        self.inputs: dict[str, str] = {}

    def records(self, path: Path, normalise: Callable[[Any, str], dict[str, Any]]) -> Iterator[dict[str, Any]]:
        rel = path.relative_to(self.root).as_posix()
        self.inputs[rel] = sha256_file(path)
        on_bad = self.skipped if self.data.on_bad_record == "skip" else None
        try:
            for origin, raw in iter_records(path, on_bad):
                try:
                    record = normalise(raw, rel + origin[len(str(path)) :])
                except ValueError as error:
                    handle_bad_record(BadRecordError(f"{origin}: {error}"), path, on_bad)
                    continue
                yield record
        except DamagedFileError as error:
            if self.data.on_damaged == "fail":
                raise
            log.warning(
                "%s: read %d records up to the damage; the rest is lost (data.on_damaged=warn)", path, error.recovered
            )
            self.damaged.append({"file": rel, "records_recovered": error.recovered, "error": str(error)})


def _count(stats: dict[str, int], record: dict[str, Any]) -> None:
    stats["documents"] += 1
    if "text" in record:
        stats["words"] += len(record["text"].split())
        stats["bytes"] += len(record["text"].encode("utf-8"))


def _alignment(ids: dict[tuple[str, str, str], set[str]], data: DataConfig) -> dict[str, Any]:
    """Per split and genre: distinct ori and leaner ids, and how many leaner ids have an ori twin."""
    if set(data.variants) != {"ori", "leaner"}:
        return {}
    table: dict[str, Any] = {}
    for split in data.splits:
        for genre in data.genres:
            ori, leaner = ids[("ori", split, genre)], ids[("leaner", split, genre)]
            table.setdefault(split, {})[genre] = {
                "ori_ids": len(ori),
                "leaner_ids": len(leaner),
                "matched": len(ori & leaner),
            }
    return table


@dataclass
class IngestResult:
    """What `ingest` read: metrics for metrics/ingest.json, input hashes for meta.json, the source."""

    metrics: dict[str, Any]
    inputs: dict[str, str]
    source: dict[str, Any]


def ingest(data: DataConfig, cfg: IngestConfig, out_dir: str | Path) -> IngestResult:
    """Read the selected parts of the corpus named by `data.source` into normalised files under `out_dir`.

    Args:
        data: what to read (source, budget, variants, genres, splits, GLUE tasks, eval sets, policies).
        cfg: how to read it (document cap, hub cache).
        out_dir: the output folder; replaced as a whole once everything has been written.

    Returns:
        The metrics (counts per variant/split/genre, GLUE and eval counts, alignment of leaner to ori,
        missing files, damaged files, skipped records), input file hashes and the resolved source.

    Raises:
        DataError: the source is missing, a record is malformed (with `data.on_bad_record=fail`) or a
            file is damaged (with `data.on_damaged=fail`).
    """
    groups = plan_groups(data)
    root, source = resolve_source(data, cfg, groups)
    log.info("ingesting %s (budget %s) from %s", data.source, data.budget, root)
    reader = _Reader(root, data)
    metrics: dict[str, Any] = {"source": source, "budget": data.budget}
    missing: list[str] = []
    ids: dict[tuple[str, str, str], set[str]] = {}

    with atomic_dir(out_dir) as tmp:
        for group in tqdm(groups, desc="ingest", unit="file", disable=None):
            stats, seen = _write_group(group, root, reader, tmp / group.out, cfg.max_documents, missing)
            labels = group.labels
            if group.kind == "corpus":
                stats["duplicate_ids"] = stats["documents"] - len(seen)
                metrics.setdefault("corpus", {}).setdefault(labels["variant"], {}).setdefault(labels["split"], {})[
                    labels["genre"]
                ] = stats
                ids[(labels["variant"], labels["split"], labels["genre"])] = seen
            elif group.kind == "instruction":
                metrics.setdefault("instruction", {})[labels["variant"]] = stats
            elif group.kind == "glue":
                metrics.setdefault("glue", {}).setdefault(labels["task"], {})[labels["split"]] = {
                    "examples": stats["documents"]
                }
            else:
                metrics.setdefault("eval", {})[labels["name"]] = {"questions": stats["documents"]}

    metrics["alignment"] = _alignment(ids, data)
    metrics["missing"] = missing
    metrics["damaged"] = reader.damaged
    metrics["bad_records"] = {Path(k).relative_to(root).as_posix(): v for k, v in reader.skipped.counts.items()}
    if missing:
        log.warning("not in %s (%d): %s", data.source, len(missing), ", ".join(missing))
    log.info(
        "ingested %d documents; %d missing, %d damaged, %d bad records skipped",
        sum(s["documents"] for v in metrics.get("corpus", {}).values() for sp in v.values() for s in sp.values()),
        len(missing),
        len(reader.damaged),
        sum(reader.skipped.counts.values()),
    )
    return IngestResult(metrics=metrics, inputs=reader.inputs, source=source)


def _write_group(
    group: Group, root: Path, reader: _Reader, out_path: Path, cap: int, missing: list[str]
) -> tuple[dict[str, int], set[str]]:
    """Write one output file from its release files; return its counts and the ids it holds."""
    stats = {"documents": 0, "words": 0, "bytes": 0} if group.kind in ("corpus", "instruction") else {"documents": 0}
    seen: set[str] = set()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as out:
        for pattern in group.patterns:
            files = _matching_files(root, pattern)
            if not files:
                missing.append(pattern.removesuffix("[0-9]*"))
                continue
            budget_dir = pattern.split("/")[1] if group.kind == "corpus" else ""
            normalise = _normaliser(group, budget_dir)
            for path in files:
                if cap and stats["documents"] >= cap:
                    break
                for record in reader.records(path, normalise):
                    out.write(dumps_line(record))
                    _count(stats, record)
                    seen.add(record["id"])
                    if cap and stats["documents"] >= cap:
                        break
    return stats, seen
