"""Leaner-GLUE metrics per task, in NumPy (`evaluate.load("glue")` needs the hub).

The formulas are those of scikit-learn (`accuracy_score`, `f1_score`, `matthews_corrcoef`) and SciPy
(`pearsonr`, `spearmanr`), and the tests check that the values agree; importing those two libraries costs about
2 s of CPU in every stage process (sklearn pulls in scipy.stats), a tenth of a sample-sized glue stage.

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


def f1_binary(predictions: np.ndarray, labels: np.ndarray) -> float:
    """F1 of the positive class 1 (0 when it is never predicted nor present, as sklearn's zero_division=0)."""
    true_positive = np.sum((predictions == 1) & (labels == 1))
    denominator = np.sum(predictions == 1) + np.sum(labels == 1)
    return float(2 * true_positive / denominator) if denominator else 0.0


def matthews_corrcoef(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Multiclass Matthews correlation (Gorodkin's R_K, as sklearn); 0 when it is undefined."""
    classes = np.union1d(predictions, labels)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(confusion, (np.searchsorted(classes, labels), np.searchsorted(classes, predictions)), 1)
    true_per_class, predicted_per_class = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    covariance = correct * total - predicted_per_class @ true_per_class
    scale = (total**2 - predicted_per_class @ predicted_per_class) * (total**2 - true_per_class @ true_per_class)
    return float(covariance / np.sqrt(scale)) if scale > 0 else 0.0


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
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(predictions) != len(labels) or len(labels) == 0:
        raise ValueError(f"{task}: {len(predictions)} predictions for {len(labels)} labels")
    values: dict[str, float] = {}
    for name in TASK_METRICS[task]:
        if name == "mcc":
            values[name] = matthews_corrcoef(predictions, labels)
        elif name == "accuracy":
            values[name] = float(np.mean(predictions == labels))
        elif name == "f1":
            values[name] = f1_binary(predictions, labels)
        else:
            values[name] = _correlation(name, predictions.astype(float), labels.astype(float))
    values["score"] = float(np.mean([values[name] for name in TASK_METRICS[task]]))
    return values
