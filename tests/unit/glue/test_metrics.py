"""GLUE metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from tinyhelen.glue.metrics import average_ranks, compute_metrics


def test_cola_mcc():
    # TP=1, FN=1, TN=2, FP=0: (1*2 - 0*1) / sqrt(1*2*2*3)
    metrics = compute_metrics("cola", [1, 0, 0, 0], [1, 1, 0, 0])
    assert metrics["mcc"] == pytest.approx(2 / math.sqrt(12))
    assert metrics["score"] == metrics["mcc"]


def test_mrpc_accuracy_f1_and_combined_score():
    # 3 of 4 right; TP=2, FP=0, FN=1: precision 1, recall 2/3, F1 0.8
    metrics = compute_metrics("mrpc", [1, 1, 0, 0], [1, 1, 1, 0])
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.8)
    assert metrics["score"] == pytest.approx(0.775)


@pytest.mark.parametrize("task", ["sst2", "mnli", "qnli", "rte", "wnli"])
def test_accuracy_tasks(task):
    metrics = compute_metrics(task, [0, 2, 1, 1, 0], [0, 2, 1, 0, 1])
    assert metrics == {"accuracy": pytest.approx(0.6), "score": pytest.approx(0.6)}


def test_stsb_pearson_spearman():
    # x = 1,2,3; y = 1,2,4: cov 3, |dx| = sqrt 2, |dy| = sqrt(42/9); ranks agree exactly
    metrics = compute_metrics("stsb", [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    pearson = 3 / (math.sqrt(2) * math.sqrt(42 / 9))
    assert metrics["pearson"] == pytest.approx(pearson)
    assert metrics["spearman"] == pytest.approx(1.0)
    assert metrics["score"] == pytest.approx((pearson + 1.0) / 2)


def test_constant_predictions_score_zero_not_nan():
    assert compute_metrics("stsb", [2.5, 2.5, 2.5], [1.0, 2.0, 4.0])["score"] == 0.0
    assert compute_metrics("cola", [1, 1, 1], [1, 0, 1])["mcc"] == 0.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        compute_metrics("rte", [0, 1], [0, 1, 1])


def test_ranks_and_correlations_match_scipy():
    import numpy as np
    from scipy import stats

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 200).astype(float)  # many ties, like Leaner STS-B
    predictions = labels + rng.normal(0, 1.5, 200)
    predictions[:20] = 2.5
    assert np.allclose(average_ranks(labels), stats.rankdata(labels))
    metrics = compute_metrics("stsb", predictions, labels)
    assert metrics["pearson"] == pytest.approx(stats.pearsonr(predictions, labels)[0])
    assert metrics["spearman"] == pytest.approx(stats.spearmanr(predictions, labels)[0])


@pytest.mark.parametrize("task, num_classes", [("cola", 2), ("mrpc", 2), ("mnli", 3)])
def test_classification_metrics_match_sklearn(task, num_classes):
    import numpy as np
    from sklearn import metrics as sk

    rng = np.random.default_rng(1)
    for labels, predictions in [
        (rng.integers(0, num_classes, 300), rng.integers(0, num_classes, 300)),
        (np.array([1, 1, 0, 1]), np.array([1, 1, 1, 1])),
        (np.array([0, 0, 0]), np.array([0, 0, 0])),
    ]:
        ours = compute_metrics(task, predictions, labels)
        expected = {
            "mcc": lambda labels=labels, predictions=predictions: sk.matthews_corrcoef(labels, predictions),
            "accuracy": lambda labels=labels, predictions=predictions: sk.accuracy_score(labels, predictions),
            "f1": lambda labels=labels, predictions=predictions: sk.f1_score(labels, predictions, zero_division=0.0),
        }
        for name in set(ours) - {"score"}:
            assert ours[name] == pytest.approx(expected[name]()), (name, labels, predictions)
