"""Aggregation (absent from the original): best LR per task, test mean +- std over seeds, a GLUE average,
the cross-model summary and the markdown table in the paper's layout (models x tasks).

Rules:
- per task, the best LR is the one with the highest mean validation `score` over seeds (selection column:
  the task's first, i.e. mnli-m for mnli); ties go to the LR listed first;
- at that LR, each metric is reported as mean and sample standard deviation (ddof 1; 0 for one seed) over seeds;
- a task's score is its combined score (mean of its metrics); mnli's is the mean of mnli-m and mnli-mm;
- the GLUE average is the mean task score over the tasks that ran (skipped tasks are named, not counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import read_json, sha256_file
from tinyhelen.glue.data import TASK_COLUMNS
from tinyhelen.glue.metrics import TASK_METRICS

ARCH_LABELS = {"llama": "Llama", "mamba": "Mamba", "bert": "BERT", "xlnet": "XLNet"}
INIT_LABELS = {"scratch": "from scratch", "ori": "ori", "leaner": "leaner"}
COLUMN_LABELS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B",
                 "mnli-m": "MNLI-m", "mnli-mm": "MNLI-mm", "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def _over_seeds(runs: Sequence[Mapping], kind: str, column: str, task: str) -> dict[str, dict] | None:
    scored = [run[kind][column] for run in runs if run[kind].get(column)]
    if not scored:
        return None
    return {name: mean_std([s[name] for s in scored]) for name in (*TASK_METRICS[task], "score")}


def summarise_task(task: str, runs: Sequence[Mapping[str, Any]]) -> tuple[dict, dict]:
    """Pick the best LR of one task and summarise its seeds.

    Args:
        task: the task.
        runs: its run records (`RunResult` as dicts), any LRs and seeds.

    Returns:
        (task summary: best LR, mean validation score per LR, seeds; scores per report column).
    """
    select = TASK_COLUMNS[task][0][0]
    by_lr: dict[float, list[Mapping]] = {}
    for run in runs:
        by_lr.setdefault(run["learning_rate"], []).append(run)
    lr_scores = {lr: float(np.mean([r["validation"][select]["score"] for r in group])) for lr, group in by_lr.items()}
    best_lr = max(lr_scores, key=lambda lr: lr_scores[lr])  # max keeps the first of equal scores
    chosen = by_lr[best_lr]
    scores = {column: {"validation": _over_seeds(chosen, "validation", column, task),
                       "test": _over_seeds(chosen, "test", column, task)}
              for column, _, _ in TASK_COLUMNS[task]}
    summary = {"status": "done", "best_lr": best_lr, "seeds": sorted(r["seed"] for r in chosen),
               "lr_validation_score": {f"{lr:g}": s for lr, s in lr_scores.items()}}
    return summary, scores


def _task_score(task: str, scores: Mapping, kind: str) -> float | None:
    values = [scores[c][kind]["score"]["mean"] for c, _, _ in TASK_COLUMNS[task] if scores[c][kind]]
    return float(np.mean(values)) if len(values) == len(TASK_COLUMNS[task]) else None


def summarise_model(name: str, tasks: Sequence[str], runs: Sequence[Mapping[str, Any]],
                    skipped: Mapping[str, str]) -> dict[str, Any]:
    """The per-model metrics file: per task status and best LR, per column scores, and the GLUE average."""
    task_rows: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    averages: dict[str, list[float]] = {"validation": [], "test": []}
    for task in tasks:
        if task in skipped:
            task_rows[task] = {"status": "skipped", "reason": skipped[task]}
            continue
        task_runs = [run for run in runs if run["task"] == task]
        if not task_runs:
            task_rows[task] = {"status": "skipped", "reason": "no runs"}
            continue
        task_rows[task], task_scores = summarise_task(task, task_runs)
        scores.update(task_scores)
        for kind in averages:
            value = _task_score(task, task_scores, kind)
            if value is not None:
                averages[kind].append(value)
    arch, _, init = name.partition("-")
    average = {kind: float(np.mean(values)) if values else None for kind, values in averages.items()}
    average["tasks"] = len(averages["test"])
    return {"model": name, "arch": arch, "init": init, "average": average, "tasks": task_rows, "scores": scores,
            "runs": len(runs)}


def _order(name: str) -> tuple:
    arch, _, init = name.partition("-")
    archs, inits = list(ARCH_LABELS), list(INIT_LABELS)
    return (archs.index(arch) if arch in archs else len(archs), arch,
            inits.index(init) if init in inits else len(inits), init)


def summarise_models(models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The cross-model summary: per model its test score per column, the GLUE average and skipped tasks."""
    columns = []
    for metrics in models.values():
        for column in metrics["scores"]:
            if column not in columns:
                columns.append(column)
    order = list(COLUMN_LABELS)
    columns.sort(key=lambda c: order.index(c) if c in order else len(order))
    rows = {}
    for name in sorted(models, key=_order):
        metrics = models[name]
        rows[name] = {
            "arch": metrics["arch"], "init": metrics["init"], "average": metrics["average"],
            "test": {c: metrics["scores"][c]["test"]["score"] for c in columns
                     if c in metrics["scores"] and metrics["scores"][c]["test"]},
            "best_lr": {t: row["best_lr"] for t, row in metrics["tasks"].items() if row["status"] == "done"},
            "skipped": sorted(t for t, row in metrics["tasks"].items() if row["status"] == "skipped"),
        }
    return {"columns": columns, "models": rows}


def _cell(value: Mapping[str, float] | None) -> str:
    if value is None:
        return "–"
    text = f"{100 * value['mean']:.1f}"
    return f"{text} ± {100 * value['std']:.1f}" if value.get("std") else text


def markdown_table(summary: Mapping[str, Any]) -> str:
    """Models x tasks, test combined score x 100 as mean ± std over seeds at each task's best LR."""
    columns = summary["columns"]
    header = ["Model", *[COLUMN_LABELS.get(c, c) for c in columns], "Avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in summary["models"].items():
        label = f"{ARCH_LABELS.get(row['arch'], row['arch'])} ({INIT_LABELS.get(row['init'], row['init'])})"
        cells = [_cell(row["test"].get(c)) for c in columns]
        average = row["average"]["test"]
        cells.append("–" if average is None else f"{100 * average:.1f}")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    skipped = sorted({t for row in summary["models"].values() for t in row["skipped"]})
    notes = ["", "Leaner-GLUE test scores x 100: mean ± std over seeds at each task's best learning rate "
             "(chosen by mean validation score). CoLA: MCC; MRPC, QQP: mean of accuracy and F1; STS-B: mean of "
             "Pearson and Spearman; others: accuracy. Avg: mean task score (MNLI = mean of -m and -mm) over the "
             "tasks that ran."]
    if skipped:
        notes.append(f"Skipped (no train or validation file): {', '.join(skipped)}.")
    return "\n".join(lines + notes) + "\n"


def summarise_files(paths: Sequence[Path]) -> tuple[dict[str, Any], str, dict[str, str]]:
    """Read per-model metrics files; return the summary, its markdown table and the input hashes.

    Raises:
        DataError: no files, or a file that is not a per-model GLUE metrics file.
    """
    if not paths:
        raise DataError("glue_summary: no per-model metrics files (run the glue stage first)")
    models = {}
    for path in paths:
        try:
            metrics = read_json(path)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: cannot read GLUE metrics ({error})") from None
        missing = [k for k in ("model", "arch", "init", "average", "tasks", "scores") if k not in metrics]
        if missing:
            raise DataError(f"{path}: not a per-model GLUE metrics file (missing {missing})")
        if metrics["model"] in models:
            raise DataError(f"{path}: model '{metrics['model']}' appears twice")
        models[metrics["model"]] = metrics
    summary = summarise_models(models)
    return summary, markdown_table(summary), {str(p): sha256_file(p) for p in paths}
