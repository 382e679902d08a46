"""Aggregation (absent from the original): best LR per task, test mean +- std over seeds, a GLUE average,
the cross-model summary and the markdown table in the paper's layout (models x tasks).

Rules:
- per task, the best LR is the one with the highest mean validation `score` over seeds (selection column:
  the task's first, i.e. mnli-m for mnli); ties go to the LR listed first;
- at that LR, each metric is reported as mean and sample standard deviation (ddof 1; 0 for one seed) over seeds;
- a task's score is its combined score (mean of its metrics); mnli's is the mean of mnli-m and mnli-mm;
- the GLUE average is the mean task score over the tasks that ran (skipped tasks are named, not counted).

Over pre-training seeds (`summarise_grid`): the models of the grid (`<arch>-<corpus>-s<seed>`, plus the
from-scratch baselines `<arch>-scratch-s<seed>`) are grouped per (arch, corpus); per report column and for the
average, each model contributes its test score (its mean over fine-tuning seeds at its best LR), and a group
reports mean, sample std and a 95% Student-t interval over its pre-training seeds. The paired difference
leaner - ori per arch is taken seed by seed, with its own mean, std and 95% t-interval. With one seed the std
and the interval are null (no spread can be estimated from one model), and the table says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import read_json, sha256_file
from tinyhelen.core.stats import mean_interval
from tinyhelen.glue.data import TASK_COLUMNS
from tinyhelen.glue.metrics import TASK_METRICS

ARCH_LABELS = {"llama": "Llama", "mamba": "Mamba", "bert": "BERT", "xlnet": "XLNet"}
INIT_LABELS = {"scratch": "from scratch", "ori": "ori", "leaner": "leaner"}
COLUMN_LABELS = {
    "cola": "CoLA",
    "sst2": "SST-2",
    "mrpc": "MRPC",
    "qqp": "QQP",
    "stsb": "STS-B",
    "mnli-m": "MNLI-m",
    "mnli-mm": "MNLI-mm",
    "qnli": "QNLI",
    "rte": "RTE",
    "wnli": "WNLI",
}


_NAME = re.compile(r"(?P<arch>[a-z0-9]+)-(?P<init>[a-z]+)(?:-s(?P<seed>\d+))?")


def parse_model_name(name: str) -> tuple[str, str, int | None]:
    """`llama-leaner-s65` -> ("llama", "leaner", 65); the seed is None in a name without one (`llama-ori`)."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise DataError(f"model name {name!r} is not <arch>-<corpus|scratch>[-s<seed>]")
    seed = match.group("seed")
    return match.group("arch"), match.group("init"), None if seed is None else int(seed)


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
    scores = {
        column: {
            "validation": _over_seeds(chosen, "validation", column, task),
            "test": _over_seeds(chosen, "test", column, task),
        }
        for column, _, _ in TASK_COLUMNS[task]
    }
    summary = {
        "status": "done",
        "best_lr": best_lr,
        "seeds": sorted(r["seed"] for r in chosen),
        "lr_validation_score": {f"{lr:g}": s for lr, s in lr_scores.items()},
    }
    return summary, scores


def _task_score(task: str, scores: Mapping, kind: str) -> float | None:
    values = [scores[c][kind]["score"]["mean"] for c, _, _ in TASK_COLUMNS[task] if scores[c][kind]]
    return float(np.mean(values)) if len(values) == len(TASK_COLUMNS[task]) else None


def summarise_model(
    name: str,
    tasks: Sequence[str],
    runs: Sequence[Mapping[str, Any]],
    skipped: Mapping[str, str],
    step: int | None = None,
) -> dict[str, Any]:
    """The per-model metrics file: per task status and best LR, per column scores, and the GLUE average.
    `step` is the exported pre-training step scored (None: the final model)."""
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
    arch, init, seed = parse_model_name(name)
    average = {kind: float(np.mean(values)) if values else None for kind, values in averages.items()}
    average["tasks"] = len(averages["test"])
    return {
        "model": name,
        "arch": arch,
        "init": init,
        "seed": seed,
        "step": "final" if step is None else step,
        "average": average,
        "tasks": task_rows,
        "scores": scores,
        "runs": len(runs),
    }


def _order(name: str) -> tuple:
    arch, init, _ = parse_model_name(name)
    archs, inits = list(ARCH_LABELS), list(INIT_LABELS)
    return (
        archs.index(arch) if arch in archs else len(archs),
        arch,
        inits.index(init) if init in inits else len(inits),
        init,
    )


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
            "arch": metrics["arch"],
            "init": metrics["init"],
            "average": metrics["average"],
            "test": {
                c: metrics["scores"][c]["test"]["score"]
                for c in columns
                if c in metrics["scores"] and metrics["scores"][c]["test"]
            },
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
    for row in summary["models"].values():
        label = f"{ARCH_LABELS.get(row['arch'], row['arch'])} ({INIT_LABELS.get(row['init'], row['init'])})"
        cells = [_cell(row["test"].get(c)) for c in columns]
        average = row["average"]["test"]
        cells.append("–" if average is None else f"{100 * average:.1f}")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    skipped = sorted({t for row in summary["models"].values() for t in row["skipped"]})
    notes = [
        "",
        "Leaner-GLUE test scores x 100: mean ± std over seeds at each task's best learning rate "
        "(chosen by mean validation score). CoLA: MCC; MRPC, QQP: mean of accuracy and F1; STS-B: mean of "
        "Pearson and Spearman; others: accuracy. Avg: mean task score (MNLI = mean of -m and -mm) over the "
        "tasks that ran.",
    ]
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


# --- over pre-training seeds ----------------------------------------------------------------------------------

ROUND = 6  # decimals kept in the summary (scores are in [-1, 1])


def interval(values: Sequence[float], confidence: float = 0.95) -> dict[str, Any]:
    """n, mean, sample std and the two-sided Student-t interval of the mean (`core.stats.mean_interval`), rounded;
    std and interval are None for n=1."""
    stats = mean_interval(values, confidence)
    if stats["std"] is None:
        return {"n": stats["n"], "mean": round(stats["mean"], ROUND), "std": None, "ci95": None}
    return {
        "n": stats["n"],
        "mean": round(stats["mean"], ROUND),
        "std": round(stats["std"], ROUND),
        "ci95": [round(stats["low"], ROUND), round(stats["high"], ROUND)],
    }


def _model_values(metrics: Mapping[str, Any], columns: Sequence[str]) -> dict[str, float | None]:
    """One model's test score per column (mean over fine-tuning seeds) and its GLUE average."""
    values: dict[str, float | None] = {}
    for column in columns:
        test = metrics["scores"].get(column, {}).get("test")
        values[column] = test["score"]["mean"] if test else None
    values["average"] = metrics["average"]["test"]
    return values


def _over(values_by_seed: Mapping[int, Mapping[str, float | None]], keys: Sequence[str]) -> dict[str, Any]:
    out = {}
    for key in keys:
        values = [v[key] for v in values_by_seed.values() if v[key] is not None]
        out[key] = interval(values) if values else None
    return out


def summarise_grid(models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Group per-model metrics per (arch, corpus) over pre-training seeds; leaner - ori per arch, by seed.

    Args:
        models: name (`<arch>-<init>-s<seed>`) -> its per-model GLUE metrics.

    Returns:
        {"columns", "groups": {"<arch>-<init>": {arch, init, seeds, step, test: {column: interval},
        average: interval}}, "differences": {arch: {seeds, test, average}}, "models": {name: values}}.
    """
    columns = summarise_models(models)["columns"]
    keys = [*columns, "average"]
    grouped: dict[tuple[str, str], dict[int, dict]] = {}
    steps: dict[tuple[str, str], set] = {}
    per_model = {}
    for name in sorted(models, key=_order):
        arch, init, seed = parse_model_name(name)
        values = _model_values(models[name], columns)
        grouped.setdefault((arch, init), {})[seed] = values
        steps.setdefault((arch, init), set()).add(str(models[name].get("step", "final")))
        per_model[name] = {k: None if v is None else round(v, ROUND) for k, v in values.items()}
    groups = {}
    for (arch, init), by_seed in grouped.items():
        over = _over(by_seed, keys)
        groups[f"{arch}-{init}"] = {
            "arch": arch,
            "init": init,
            "seeds": sorted(by_seed),
            "step": "/".join(sorted(steps[(arch, init)])),
            "test": {c: over[c] for c in columns},
            "average": over["average"],
        }
    differences = {}
    for arch in dict.fromkeys(arch for arch, _ in grouped):
        leaner, ori = grouped.get((arch, "leaner")), grouped.get((arch, "ori"))
        if not leaner or not ori:
            continue
        seeds = sorted(set(leaner) & set(ori))
        paired = {
            seed: {
                k: None if leaner[seed][k] is None or ori[seed][k] is None else leaner[seed][k] - ori[seed][k]
                for k in keys
            }
            for seed in seeds
        }
        over = _over(paired, keys)
        differences[arch] = {"seeds": seeds, "test": {c: over[c] for c in columns}, "average": over["average"]}
    return {"columns": columns, "groups": groups, "differences": differences, "models": per_model}


def _stat_cell(stat: Mapping[str, Any] | None, signed: bool = False) -> str:
    if stat is None:
        return "–"
    text = f"{100 * stat['mean']:+.1f}" if signed else f"{100 * stat['mean']:.1f}"
    return text if stat["std"] is None else f"{text} ± {100 * stat['std']:.1f}"


def _ci_cell(stat: Mapping[str, Any] | None) -> str:
    if stat is None:
        return "–"
    if stat["ci95"] is None:
        return "n=1: none"
    low, high = stat["ci95"]
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def grid_table(summary: Mapping[str, Any]) -> str:
    """Markdown: per (arch, corpus) mean ± std over pre-training seeds with the average's 95% interval, then
    leaner - ori per arch with its interval."""
    columns = summary["columns"]
    labels = [COLUMN_LABELS.get(c, c) for c in columns]
    header = ["Model", "n", *labels, "Avg", "Avg 95% CI"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary["groups"].values():
        label = f"{ARCH_LABELS.get(row['arch'], row['arch'])} ({INIT_LABELS.get(row['init'], row['init'])})"
        if row["step"] != "final" and row["init"] != "scratch":
            label += f" @ step {row['step']}"
        cells = [_stat_cell(row["test"][c]) for c in columns]
        lines.append(
            "| "
            + " | ".join([label, str(len(row["seeds"])), *cells, _stat_cell(row["average"]), _ci_cell(row["average"])])
            + " |"
        )
    notes = [
        "",
        (
            "Leaner-GLUE test scores x 100: per model, the mean over fine-tuning seeds at each task's best "
            "learning rate; here mean ± sample std over the n pre-training seeds, and the 95% Student-t "
            "interval of the mean GLUE average. With n=1 there is no spread to estimate: std and interval "
            "are left out."
        ),
    ]
    if summary["differences"]:
        header = ["Arch", "n", *labels, "Avg", "Avg 95% CI"]
        lines += [
            "",
            "Paired difference leaner − ori (same pre-training seed), x 100:",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for arch, row in summary["differences"].items():
            cells = [_stat_cell(row["test"][c], signed=True) for c in columns]
            lines.append(
                "| "
                + " | ".join(
                    [
                        ARCH_LABELS.get(arch, arch),
                        str(len(row["seeds"])),
                        *cells,
                        _stat_cell(row["average"], signed=True),
                        _ci_cell(row["average"]),
                    ]
                )
                + " |"
            )
    return "\n".join(lines + notes) + "\n"


def read_grid_metrics(
    metrics_dir: str | Path, names: Sequence[str], steps: Mapping[str, int | None] | None = None
) -> tuple[dict[str, dict], dict[str, str]]:
    """Read `<results_dir>/<name>/metrics.json` (each model's full GLUE metrics, beside its runs) for exactly the
    named models (never other folders there).

    Args:
        metrics_dir: the glue stage's results folder (results/glue).
        names: the models params name (the grid and its from-scratch baselines).
        steps: name -> the pre-training step params ask to score (None: final); a file for another step is stale.

    Raises:
        DataError: a named file is missing, unreadable, not a per-model GLUE file, or for another model or step.
    """
    models, inputs = {}, {}
    missing = [name for name in names if not (Path(metrics_dir) / name / "metrics.json").is_file()]
    if missing:
        raise DataError(
            f"glue_summary: no GLUE metrics for {missing} in {metrics_dir} (params name them: run "
            "the glue stage for them first)"
        )
    for name in names:
        path = Path(metrics_dir) / name / "metrics.json"
        try:
            metrics = read_json(path)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: cannot read GLUE metrics ({error})") from None
        lacking = [k for k in ("model", "arch", "init", "average", "tasks", "scores") if k not in metrics]
        if lacking:
            raise DataError(f"{path}: not a per-model GLUE metrics file (missing {lacking})")
        if metrics["model"] != name:
            raise DataError(f"{path}: holds model '{metrics['model']}', expected '{name}'")
        if steps is not None and name in steps:
            wanted = "final" if steps[name] is None else steps[name]
            if metrics.get("step", "final") != wanted:
                raise DataError(
                    f"{path}: scores step {metrics.get('step', 'final')}, params ask for {wanted} "
                    "(glue.step): re-run the glue stage"
                )
        models[name] = metrics
        inputs[str(path)] = sha256_file(path)
    return models, inputs
