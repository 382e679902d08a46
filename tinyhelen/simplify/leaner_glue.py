"""Leaner-GLUE construction (spec §1.6, §2.12): simplify GLUE items, keep those whose label survives.

    result = build_leaner_glue(params.glue_simplify, params.llm, "data/leaner_glue")

For each task: the source train split and validation split(s) are read (`glue_simplify.source`: the
`nyu-mll/glue` hub dataset through `datasets`, or a local folder of `<task>_<split>.jsonl` in the HF schema),
every item is simplified with `prompts/glue/simplify.txt` (task description, input and output formats and
label meaning from `prompts/glue/tasks.yaml`), and the simplified item is then answered with
`prompts/glue/answer.txt`. An item is kept only if that answer reproduces the gold label (STS-B: within
`stsb_tolerance`). GLUE's test labels are hidden, so, as in the release, the kept validation items are cut
into two label-stratified halves, validation and test (`split_seed`). Output: `<task>_<split>.jsonl` in the
release layout (`{<text fields>, label, idx}`; mnli: `_validation_matched`, `_test_matched`, ...).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import atomic_dir, iter_records, sha256_file, write_jsonl
from tinyhelen.core.release import GLUE_FIELDS
from tinyhelen.simplify.config import GlueSimplifyConfig, LLMConfig
from tinyhelen.simplify.llm import CachedLLM, CallStats
from tinyhelen.simplify.prompts import (
    ParseError,
    answer_text,
    load_templates,
    parse_fields,
    parse_label,
    render_fields,
)

log = logging.getLogger(__name__)

#: Source validation split -> the two output splits it is halved into.
HALVES = {
    "validation": ("validation", "test"),
    "validation_matched": ("validation_matched", "test_matched"),
    "validation_mismatched": ("validation_mismatched", "test_mismatched"),
}


@dataclass
class GlueResult:
    metrics: dict[str, Any]
    inputs: dict[str, str]


def source_splits(task: str) -> tuple[str, ...]:
    return ("train", "validation_matched", "validation_mismatched") if task == "mnli" else ("train", "validation")


def load_source(source: str, task: str, split: str, max_items: int) -> list[dict[str, Any]]:
    """Items `{<fields>, label, idx}` of one GLUE split, from the hub or a local folder."""
    fields = GLUE_FIELDS[task]
    if source.startswith("hf:"):
        import datasets

        rows = datasets.load_dataset(source[3:], task, split=split)
        items = (dict(row) for row in rows)
    else:
        path = Path(source) / f"{task}_{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: GLUE source file missing (glue_simplify.source = {source})")
        items = (record for _, record in iter_records(path))
    out = []
    for item in items:
        missing = [key for key in (*fields, "label", "idx") if key not in item]
        if missing:
            raise DataError(f"{source} {task}_{split}: item {item.get('idx')!r} lacks {missing}")
        out.append({**{key: item[key] for key in fields}, "label": item["label"], "idx": int(item["idx"])})
        if max_items and len(out) >= max_items:
            break
    return out


def stratified_halves(items: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Two label-stratified halves (sklearn); plain halves when a class is too small to stratify."""
    from sklearn.model_selection import train_test_split

    if len(items) < 2:
        return items, []
    labels = [round(float(item["label"])) for item in items]
    stratify = labels if min(Counter(labels).values()) >= 2 else None
    first, second = train_test_split(items, test_size=0.5, random_state=seed, stratify=stratify)
    return sorted(first, key=lambda i: i["idx"]), sorted(second, key=lambda i: i["idx"])


class GlueSimplifier:
    def __init__(self, settings: GlueSimplifyConfig, llm: CachedLLM) -> None:
        self.settings = settings
        self.llm = llm
        folder = Path(settings.prompts_dir)
        self.templates = load_templates(folder, ["simplify", "answer"])
        tasks_file = folder / "tasks.yaml"
        try:
            self.tasks = yaml.safe_load(tasks_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{tasks_file}: cannot read task descriptions ({error})") from None
        for task in settings.tasks:
            entry = self.tasks.get(task) if isinstance(self.tasks, dict) else None
            if not isinstance(entry, dict) or not {"description", "label_explanation"} <= set(entry):
                raise ConfigError(f"{tasks_file}: task '{task}' needs 'description' and 'label_explanation'")
        self.inputs = {str(p): sha256_file(p) for p in (folder / "simplify.txt", folder / "answer.txt", tasks_file)}

    def _fill(self, task: str) -> dict[str, str]:
        fields = GLUE_FIELDS[task]
        return {
            "task": task.upper(),
            "description": self.tasks[task]["description"],
            "label_explanation": self.tasks[task]["label_explanation"],
            "input_format": "one line per field: " + ", ".join(f'"{name}: ..."' for name in fields),
            "output_format": "the same lines ("
            + ", ".join(f'"{name}: ..."' for name in fields)
            + ") with the simplified text",
        }

    def simplify(self, task: str, items: list[dict], calls: CallStats, failures: Counter) -> list[dict]:
        """The simplified items whose label the LLM still reproduces."""
        fields, fill = GLUE_FIELDS[task], self._fill(task)
        simplify, answer = self.templates["simplify"], self.templates["answer"]
        prompts = [simplify.render(**fill, input=render_fields({k: item[k] for k in fields})) for item in items]
        answers, stats = self.llm.complete_many(prompts, desc=f"{task} simplify")
        calls.add(stats)
        simplified = []
        for item, response in zip(items, answers, strict=True):
            try:
                simplified.append(
                    {
                        **parse_fields(answer_text(response), simplify, fields),
                        "label": item["label"],
                        "idx": item["idx"],
                    }
                )
            except ParseError as error:
                failures[error.reason] += 1
        prompts = [
            answer.render(
                **{k: v for k, v in fill.items() if k != "task"}, input=render_fields({k: item[k] for k in fields})
            )
            for item in simplified
        ]
        answers, stats = self.llm.complete_many(prompts, desc=f"{task} check")
        calls.add(stats)
        kept = []
        for item, response in zip(simplified, answers, strict=True):
            try:
                predicted = parse_label(answer_text(response), answer, regression=task == "stsb")
            except ParseError as error:
                failures[f"check_{error.reason}"] += 1
                continue
            gold = item["label"]
            ok = abs(predicted - gold) <= self.settings.stsb_tolerance if task == "stsb" else predicted == gold
            if ok:
                kept.append(item)
            else:
                failures["label_changed"] += 1
        return kept


def build_leaner_glue(
    settings: GlueSimplifyConfig, llm_settings: LLMConfig, out_dir: str | Path, llm: CachedLLM | None = None
) -> GlueResult:
    """Build Leaner-GLUE into `out_dir` (replaced whole); when disabled, an empty folder and metrics saying so."""
    out_dir = Path(out_dir)
    if not settings.enabled:
        with atomic_dir(out_dir):
            pass
        log.info("glue_simplify is off (glue_simplify.enabled: false); wrote no items")
        return GlueResult(metrics={"enabled": False, "tasks": {}}, inputs={})
    builder = GlueSimplifier(settings, llm or CachedLLM(llm_settings))
    price_in, price_out = llm_settings.price_input_per_1m, llm_settings.price_output_per_1m
    metrics: dict[str, Any] = {"enabled": True, "source": settings.source, "tasks": {}}
    with atomic_dir(out_dir) as tmp:
        for task in settings.tasks:
            calls, failures, counts = CallStats(), Counter(), {}
            items_in = kept_total = 0
            for split in source_splits(task):
                items = load_source(settings.source, task, split, settings.max_items)
                kept = builder.simplify(task, items, calls, failures)
                items_in, kept_total = items_in + len(items), kept_total + len(kept)
                parts = (
                    {split: kept}
                    if split == "train"
                    else dict(zip(HALVES[split], stratified_halves(kept, settings.split_seed), strict=False))
                )
                for name, rows in parts.items():
                    counts[name] = write_jsonl(tmp / f"{task}_{name}.jsonl", rows)
            metrics["tasks"][task] = {
                "items_in": items_in,
                "items_kept": kept_total,
                "retention": round(kept_total / items_in, 4) if items_in else None,
                "files": counts,
                "llm_calls": calls.calls,
                "cache_hits": calls.cache_hits,
                "input_tokens": calls.input_tokens,
                "output_tokens": calls.output_tokens,
                "estimated_cost": round((calls.input_tokens * price_in + calls.output_tokens * price_out) / 1e6, 6),
                "failures": dict(sorted(failures.items())),
            }
            log.info("%s: kept %d of %d items (%s)", task, kept_total, items_in, dict(failures) or "no failures")
    return GlueResult(metrics=metrics, inputs=builder.inputs)
