"""Leaner-GLUE metrics per task: scikit-learn for the classification metrics (`evaluate.load("glue")` needs
the hub), NumPy for Pearson and Spearman (the same values as `scipy.stats`, whose import alone costs about a
second per stage process; the tests check the two agree).

Each task reports the metrics of the GLUE benchmark; `score` (the combined score) is their mean, and is what
model selection and the tables use:

    cola: mcc;  sst2, mnli, qnli, rte, wnli: accuracy;  mrpc, qqp: accuracy, f1;  stsb: pearson, spearman
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Metric names per task, in report order.
TASK_METRICS = {
    "cola": ("mcc",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearman"),
    "mnli": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as `scipy.stats.rankdata(method="average")`)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + 1 + end) / 2
    return ranks


def _correlation(kind: str, predictions: np.ndarray, labels: np.ndarray) -> float:
    # A constant prediction (or label) vector has no defined correlation: score it 0 (no signal), not NaN,
    # so that selection and averaging stay defined. Early in training a regression head often predicts
    # one value.
    if len(labels) < 2 or np.ptp(predictions) == 0 or np.ptp(labels) == 0:
        return 0.0
    if kind == "spearman":
        predictions, labels = average_ranks(predictions), average_ranks(labels)
    value = np.corrcoef(predictions, labels)[0, 1]
    return float(value) if np.isfinite(value) else 0.0


def compute_metrics(task: str, predictions: Sequence, labels: Sequence) -> dict[str, float]:
    """Score predictions against gold labels.

    Args:
        task: the GLUE task.
        predictions: predicted class ids, or predicted scores for stsb.
        labels: gold class ids, or gold scores for stsb.

    Returns:
        `{metric: value}` for the task's metrics plus `score`, their mean (the combined score).
    """
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef  # only where scores are computed

    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(predictions) != len(labels) or len(labels) == 0:
        raise ValueError(f"{task}: {len(predictions)} predictions for {len(labels)} labels")
    values: dict[str, float] = {}
    for name in TASK_METRICS[task]:
        if name == "mcc":
            values[name] = float(matthews_corrcoef(labels, predictions))
        elif name == "accuracy":
            values[name] = float(accuracy_score(labels, predictions))
        elif name == "f1":
            values[name] = float(f1_score(labels, predictions, zero_division=0.0))
        else:
            values[name] = _correlation(name, predictions.astype(float), labels.astype(float))
    values["score"] = float(np.mean([values[name] for name in TASK_METRICS[task]]))
    return values
