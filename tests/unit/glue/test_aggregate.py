"""Aggregation arithmetic: best LR by mean validation score, test mean ± std over seeds, GLUE average, table."""

from __future__ import annotations

import math
import statistics

import pytest

from tinyhelen.core.errors import DataError
from tinyhelen.glue.aggregate import (
    grid_table,
    markdown_table,
    mean_std,
    parse_model_name,
    summarise_grid,
    summarise_model,
    summarise_models,
)
from tinyhelen.glue.metrics import TASK_METRICS


def _run(task: str, lr: float, seed: int, val: float, test: float, columns=None) -> dict:
    columns = columns or [task]
    metric = "mcc" if task == "cola" else "accuracy"
    return {
        "task": task,
        "learning_rate": lr,
        "seed": seed,
        "validation": {c: {metric: val, "score": val} for c in columns},
        "test": {c: {metric: test, "score": test} for c in columns},
    }


RUNS = [
    _run("rte", 1e-3, 1, 0.6, 0.5),
    _run("rte", 1e-3, 2, 0.8, 0.7),  # mean val 0.70: best
    _run("rte", 1e-4, 1, 0.65, 0.9),
    _run("rte", 1e-4, 2, 0.65, 0.9),  # mean val 0.65
    _run("cola", 1e-4, 1, 0.2, 0.3),
    _run("cola", 1e-4, 2, 0.2, 0.1),
    _run("mnli", 1e-3, 1, 0.5, 0.4, ["mnli-m", "mnli-mm"]),
]


def test_mean_std_uses_sample_std():
    assert mean_std([0.5, 0.7]) == {"mean": pytest.approx(0.6), "std": pytest.approx(math.sqrt(0.02))}
    assert mean_std([0.4]) == {"mean": 0.4, "std": 0.0}


def test_best_lr_and_test_over_seeds():
    metrics = summarise_model("llama-leaner", ["cola", "sst2", "mnli", "rte"], RUNS, {"sst2": "missing train"})
    assert metrics["arch"] == "llama" and metrics["init"] == "leaner"
    rte = metrics["tasks"]["rte"]
    assert rte["best_lr"] == 1e-3 and rte["seeds"] == [1, 2]
    assert rte["lr_validation_score"] == {"0.001": pytest.approx(0.7), "0.0001": pytest.approx(0.65)}
    # the 1e-4 runs score better on test, but selection is on validation only
    assert metrics["scores"]["rte"]["test"]["score"] == {
        "mean": pytest.approx(0.6),
        "std": pytest.approx(0.141421, abs=1e-6),
    }
    assert metrics["scores"]["cola"]["test"]["mcc"]["mean"] == pytest.approx(0.2)
    assert metrics["tasks"]["sst2"] == {"status": "skipped", "reason": "missing train"}
    # average over cola 0.2, mnli (0.4 + 0.4) / 2, rte 0.6; sst2 not counted
    assert metrics["average"]["test"] == pytest.approx((0.2 + 0.4 + 0.6) / 3)
    assert metrics["average"]["tasks"] == 3


def test_lr_ties_go_to_the_first_listed():
    runs = [_run("rte", 5e-4, 1, 0.5, 0.1), _run("rte", 1e-3, 1, 0.5, 0.9)]
    assert summarise_model("bert-ori", ["rte"], runs, {})["tasks"]["rte"]["best_lr"] == 5e-4


def test_summary_and_table():
    models = {
        name: summarise_model(name, ["cola", "sst2", "mnli", "rte"], RUNS, {"sst2": "missing"})
        for name in ("llama-leaner", "llama-scratch", "bert-ori")
    }
    summary = summarise_models(models)
    assert list(summary["models"]) == ["llama-scratch", "llama-leaner", "bert-ori"]  # paper order
    assert summary["columns"] == ["cola", "mnli-m", "mnli-mm", "rte"]
    table = markdown_table(summary)
    lines = table.splitlines()
    assert lines[0] == "| Model | CoLA | MNLI-m | MNLI-mm | RTE | Avg |"
    assert lines[2] == "| Llama (from scratch) | 20.0 ± 14.1 | 40.0 | 40.0 | 60.0 ± 14.1 | 40.0 |"
    assert "Skipped (no train or validation file): sst2." in table


def _grid_metrics(name: str, cola: float, rte: float) -> dict:
    runs = [
        {
            "task": task,
            "learning_rate": 1e-3,
            "seed": 1,
            "validation": {task: {**{m: value for m in TASK_METRICS[task]}, "score": value}},
            "test": {task: {**{m: value for m in TASK_METRICS[task]}, "score": value}},
        }
        for task, value in (("cola", cola), ("rte", rte))
    ]
    return summarise_model(name, ["cola", "rte"], runs, {})


def test_grid_summary_over_pretraining_seeds_and_paired_difference():
    from scipy import stats

    leaner = {65: (0.30, 0.60), 66: (0.34, 0.58), 67: (0.29, 0.65)}
    ori = {65: (0.20, 0.55), 66: (0.26, 0.57), 67: (0.22, 0.59)}
    models = {}
    for corpus, values in (("leaner", leaner), ("ori", ori)):
        for seed, (cola, rte) in values.items():
            name = f"llama-{corpus}-s{seed}"
            models[name] = _grid_metrics(name, cola, rte)
    summary = summarise_grid(models)
    assert list(summary["groups"]) == ["llama-ori", "llama-leaner"]
    average = summary["groups"]["llama-leaner"]["average"]
    values = [(cola + rte) / 2 for cola, rte in leaner.values()]
    half = stats.t.ppf(0.975, 2) * statistics.stdev(values) / math.sqrt(3)
    assert average["n"] == 3 and average["mean"] == pytest.approx(statistics.mean(values), abs=1e-6)
    assert average["std"] == pytest.approx(statistics.stdev(values), abs=1e-6)
    assert average["ci95"] == pytest.approx([statistics.mean(values) - half, statistics.mean(values) + half], abs=1e-6)
    # paired by seed: the spread of the differences, not of the two groups
    differences = [leaner[s][0] - ori[s][0] for s in (65, 66, 67)]
    cola = summary["differences"]["llama"]["test"]["cola"]
    assert cola["mean"] == pytest.approx(statistics.mean(differences), abs=1e-6)
    assert cola["std"] == pytest.approx(statistics.stdev(differences), abs=1e-6)
    assert summary["differences"]["llama"]["seeds"] == [65, 66, 67]
    table = grid_table(summary)
    assert "| Llama (leaner) | 3 | 31.0 ± 2.6 | 61.0 ± 3.6 | 46.0 ± 1.0 | [43.5, 48.5] |" in table
    assert "| Llama | 3 | +8.3 ± 1.5 | +4.0 ± 2.6 | +6.2 ± 1.5 | [2.4, 10.0] |" in table


def test_grid_names_are_parsed():
    assert parse_model_name("llama-leaner-s65") == ("llama", "leaner", 65)
    assert parse_model_name("mamba-scratch-s7") == ("mamba", "scratch", 7)
    assert parse_model_name("bert-ori") == ("bert", "ori", None)
    with pytest.raises(DataError, match="is not <arch>-<corpus|scratch>"):
        parse_model_name("llama_leaner")
