"""Summary statistics with intervals, shared by every summary (GLUE, pretraining, probes, Leaner-Eval,
curriculum): mean ± std with a Student-t interval over seeds, paired differences, bootstrap intervals.

    mean_interval([0.61, 0.64, 0.60])          # {"mean": .., "std": .., "low": .., "high": .., "n": 3}
    paired_difference(leaner, ori)             # the same over per-seed differences
    bootstrap_interval(per_item, seed=65)      # a percentile interval of the mean over items
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean, sample std (ddof=1) and a two-sided Student-t interval of the mean.

    With one value the std and the interval are None (one seed says nothing about seed variance).
    """
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": None, "std": None, "low": None, "high": None, "n": 0}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "std": None, "low": None, "high": None, "n": 1}
    from scipy import stats

    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / np.sqrt(n)
    return {"mean": mean, "std": std, "low": mean - half, "high": mean + half, "n": n}


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """`mean_interval` of the pairwise differences a[i] - b[i] (pairs with a missing side are dropped)."""
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}")
    return mean_interval([x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None], confidence)


def bootstrap_interval(
    values: Sequence[float], *, seed: int, resamples: int = 1000, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """Mean and a percentile bootstrap interval of the mean over items (questions, minimal pairs)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"mean": float(x.mean()), "low": float(low), "high": float(high), "n": int(x.size)}
