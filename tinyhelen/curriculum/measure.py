"""Tokens and steps to a target validation loss, against the full-random control, with intervals over seeds.

    table = measure(runs, target_fractions=[0.25, 0.5, 0.75, 1.0], max_steps=2500, confidence=0.95)

`runs` maps (strategy, seed) to its evaluation curve (`tinyhelen.curriculum.run.CURVE_COLUMNS`). Per seed, the
targets are the `full-random` run's validation loss at the first evaluation at or after each fraction of
`max_steps` (fraction 1.0: its final loss). For each run and target:

- `steps` / `tokens`: the first evaluation whose loss is at or below the target (not reached: None);
- `steps_saved_pct` = 100 * (1 - steps / full-random's steps to the same target, same seed);
- `data_used_pct` = 100 * the share of training documents that had been in the pool by then, relative to
  full-random's (which has all of them from step 1);
- `compute_saved_pct`: as steps saved, counting the scoring forward passes of iter-selfloss as a third of a
  training token each (a forward pass is about a third of a training step's FLOPs).

Per strategy and target: the mean and a Student-t `confidence` interval over the seeds that reached the target
(no interval from one seed), and how many seeds reached it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

CONTROL = "full-random"
FORWARD_SHARE = 1.0 / 3.0


def target_losses(curve: Sequence[Mapping[str, Any]], fractions: Sequence[float], max_steps: int) -> list[float]:
    """The curve's loss at the first evaluation at or after each fraction of `max_steps`."""
    targets = []
    for fraction in fractions:
        at = fraction * max_steps
        row = next((r for r in curve if r["step"] >= at - 1e-9), curve[-1])
        targets.append(float(row["loss"]))
    return targets


def first_reaching(curve: Sequence[Mapping[str, Any]], target: float) -> Mapping[str, Any] | None:
    return next((row for row in curve if float(row["loss"]) <= target), None)


def interval(values: Sequence[float], confidence: float) -> dict[str, Any]:
    """Mean and Student-t interval (None bounds from fewer than two values)."""
    values = [float(v) for v in values]
    n = len(values)
    if not n:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = sum(values) / n
    if n < 2:
        return {"mean": round(mean, 4), "low": None, "high": None, "n": 1}
    from scipy.stats import t

    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": round(mean, 4), "low": round(mean - half, 4), "high": round(mean + half, 4), "n": n}


def _compute(row: Mapping[str, Any]) -> float:
    return float(row["tokens"]) + FORWARD_SHARE * float(row.get("scoring_tokens", 0) or 0)


def per_run(
    runs: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], fractions: Sequence[float], max_steps: int
) -> list[dict[str, Any]]:
    """One row per (strategy, seed, target fraction) with the steps, tokens and savings vs full-random."""
    rows = []
    seeds = sorted({seed for _, seed in runs})
    for seed in seeds:
        control = runs.get((CONTROL, seed))
        if control is None:
            raise ValueError(f"seed {seed}: no {CONTROL} run to measure against")
        targets = target_losses(control, fractions, max_steps)
        for (strategy, run_seed), curve in sorted(runs.items()):
            if run_seed != seed:
                continue
            for fraction, target in zip(fractions, targets, strict=False):
                hit, base = first_reaching(curve, target), first_reaching(control, target)
                row: dict[str, Any] = {
                    "strategy": strategy,
                    "seed": seed,
                    "fraction": fraction,
                    "target": round(target, 6),
                    "reached": hit is not None,
                    "steps": None,
                    "tokens": None,
                    "data_used": None,
                    "steps_saved_pct": None,
                    "data_used_pct": None,
                    "compute_saved_pct": None,
                }
                if hit is not None:
                    row.update(
                        steps=int(hit["step"]),
                        tokens=int(hit["tokens"]),
                        data_used=round(float(hit["seen_share"]), 6),
                        steps_saved_pct=round(100.0 * (1 - hit["step"] / base["step"]), 4),
                        data_used_pct=round(100.0 * float(hit["seen_share"]) / float(base["seen_share"]), 4),
                        compute_saved_pct=round(100.0 * (1 - _compute(hit) / _compute(base)), 4),
                    )
                rows.append(row)
    return rows


def summarise(rows: Sequence[Mapping[str, Any]], confidence: float) -> dict[str, Any]:
    """Per strategy and target fraction: seeds reached and the interval of each saving."""
    out: dict[str, Any] = {}
    for strategy in dict.fromkeys(row["strategy"] for row in rows):
        out[strategy] = {}
        mine = [row for row in rows if row["strategy"] == strategy]
        for fraction in dict.fromkeys(row["fraction"] for row in mine):
            cell = [row for row in mine if row["fraction"] == fraction]
            reached = [row for row in cell if row["reached"]]
            out[strategy][str(fraction)] = {
                "reached": len(reached),
                "seeds": len(cell),
                "steps": interval([r["steps"] for r in reached], confidence),
                "steps_saved_pct": interval([r["steps_saved_pct"] for r in reached], confidence),
                "data_used_pct": interval([r["data_used_pct"] for r in reached], confidence),
                "compute_saved_pct": interval([r["compute_saved_pct"] for r in reached], confidence),
            }
    return out


def final_losses(runs: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], confidence: float) -> dict[str, Any]:
    """Per strategy: the interval of the final validation loss over seeds."""
    out = {}
    for strategy in dict.fromkeys(s for s, _ in sorted(runs)):
        out[strategy] = interval(
            [float(curve[-1]["loss"]) for (s, _), curve in sorted(runs.items()) if s == strategy], confidence
        )
    return out


def _cell(stat: Mapping[str, Any], unit: str = "") -> str:
    if stat["mean"] is None:
        return "n/a"
    if stat["low"] is None:
        return f"{stat['mean']:.1f}{unit}"
    return f"{stat['mean']:.1f}{unit} [{stat['low']:.1f}, {stat['high']:.1f}]"


def table(summary: Mapping[str, Any], finals: Mapping[str, Any], fractions: Sequence[float], confidence: float) -> str:
    """Markdown: per strategy, final loss and, per target, seeds reached, steps saved %, data used %."""
    level = round(100 * confidence)
    head = ["strategy", "final val loss"]
    for fraction in fractions:
        tag = "final" if fraction == 1.0 else f"@{fraction:g}"
        head += [f"reached ({tag})", f"steps saved % ({tag})", f"data used % ({tag})"]
    lines = [
        (
            f"Targets: the same seed's {CONTROL} validation loss at each fraction of training. Cells: mean "
            f"[{level}% t-interval over seeds reaching it]. Compute-adjusted savings (self-loss scoring "
            "counted) are in metrics/curriculum.json."
        ),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for strategy, cells in summary.items():
        final = finals[strategy]
        row = [
            strategy,
            "n/a"
            if final["mean"] is None
            else (
                f"{final['mean']:.4f}" + ("" if final["low"] is None else f" [{final['low']:.4f}, {final['high']:.4f}]")
            ),
        ]
        for fraction in fractions:
            cell = cells[str(fraction)]
            row += [f"{cell['reached']}/{cell['seeds']}", _cell(cell["steps_saved_pct"]), _cell(cell["data_used_pct"])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
