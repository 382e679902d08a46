"""Aggregation arithmetic: best LR by mean validation score, test mean ± std over seeds, GLUE average, table."""

from __future__ import annotations

import math

import pytest

from tinyhelen.glue.aggregate import markdown_table, mean_std, summarise_model, summarise_models


def _run(task: str, lr: float, seed: int, val: float, test: float, columns=None) -> dict:
    columns = columns or [task]
    metric = "mcc" if task == "cola" else "accuracy"
    return {"task": task, "learning_rate": lr, "seed": seed,
            "validation": {c: {metric: val, "score": val} for c in columns},
            "test": {c: {metric: test, "score": test} for c in columns}}


RUNS = [
    _run("rte", 1e-3, 1, 0.6, 0.5), _run("rte", 1e-3, 2, 0.8, 0.7),   # mean val 0.70: best
    _run("rte", 1e-4, 1, 0.65, 0.9), _run("rte", 1e-4, 2, 0.65, 0.9),  # mean val 0.65
    _run("cola", 1e-4, 1, 0.2, 0.3), _run("cola", 1e-4, 2, 0.2, 0.1),
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
    assert metrics["scores"]["rte"]["test"]["score"] == {"mean": pytest.approx(0.6), "std": pytest.approx(0.141421, abs=1e-6)}
    assert metrics["scores"]["cola"]["test"]["mcc"]["mean"] == pytest.approx(0.2)
    assert metrics["tasks"]["sst2"] == {"status": "skipped", "reason": "missing train"}
    # average over cola 0.2, mnli (0.4 + 0.4) / 2, rte 0.6; sst2 not counted
    assert metrics["average"]["test"] == pytest.approx((0.2 + 0.4 + 0.6) / 3)
    assert metrics["average"]["tasks"] == 3


def test_lr_ties_go_to_the_first_listed():
    runs = [_run("rte", 5e-4, 1, 0.5, 0.1), _run("rte", 1e-3, 1, 0.5, 0.9)]
    assert summarise_model("bert-ori", ["rte"], runs, {})["tasks"]["rte"]["best_lr"] == 5e-4


def test_summary_and_table():
    models = {name: summarise_model(name, ["cola", "sst2", "mnli", "rte"], RUNS, {"sst2": "missing"})
              for name in ("llama-leaner", "llama-scratch", "bert-ori")}
    summary = summarise_models(models)
    assert list(summary["models"]) == ["llama-scratch", "llama-leaner", "bert-ori"]  # paper order
    assert summary["columns"] == ["cola", "mnli-m", "mnli-mm", "rte"]
    table = markdown_table(summary)
    lines = table.splitlines()
    assert lines[0] == "| Model | CoLA | MNLI-m | MNLI-mm | RTE | Avg |"
    assert lines[2] == "| Llama (from scratch) | 20.0 ± 14.1 | 40.0 | 40.0 | 60.0 ± 14.1 | 40.0 |"
    assert "Skipped (no train or validation file): sst2." in table
