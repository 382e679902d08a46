"""The curriculum study's table and plots from every arm's run folder (and the difficulty file).

    summary = summarise("results/curriculum/arms", params.curriculum, out_dir="results/curriculum/summary",
                        difficulty_path="data/difficulty/leaner.jsonl")

Reads `<runs_dir>/<strategy>-s<seed>/{run.json,curve.csv}`; writes into `out_dir`: table.md, targets.csv (one
row per strategy x seed x target), loss_vs_tokens.png (mean validation loss per strategy against tokens seen,
band = min..max over seeds), data_share.png (share of documents in the pool by step, mean over seeds) and
difficulty.png (histograms of the reference-LM loss and of words per sentence); returns the summary for
metrics/curriculum.json.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_open, iter_jsonl, sha256_file
from tinyhelen.core.plots import write_csv
from tinyhelen.curriculum.config import STRATEGIES, CurriculumConfig
from tinyhelen.curriculum.measure import CONTROL, final_losses, per_run, table
from tinyhelen.curriculum.measure import summarise as summarise_targets

INT_COLUMNS = ("step", "tokens", "level", "documents", "scoring_tokens", "grew")


def read_runs(runs_dir: str | Path) -> tuple[dict[tuple[str, int], list[dict[str, Any]]], dict[str, str]]:
    """(strategy, seed) -> evaluation curve, and the SHA-256 of every file read."""
    runs_dir = Path(runs_dir)
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    inputs: dict[str, str] = {}
    for info_path in sorted(runs_dir.glob("*/run.json")):
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            key = (str(info["strategy"]), int(info["seed"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise DataError(f"{info_path}: not a curriculum run record ({error})") from None
        curve_path = info_path.parent / "curve.csv"
        if not curve_path.is_file():
            raise DataError(f"{curve_path}: missing")
        with open(curve_path, encoding="utf-8", newline="") as handle:
            rows = []
            for number, raw in enumerate(csv.DictReader(handle), start=2):
                try:
                    rows.append({k: (int(v) if k in INT_COLUMNS else float(v)) for k, v in raw.items()})
                except (TypeError, ValueError):
                    raise DataError(f"{curve_path}:{number}: not a number in {raw}") from None
        if not rows:
            raise DataError(f"{curve_path}: no evaluation rows")
        runs[key] = rows
        inputs[str(info_path)] = sha256_file(info_path)
        inputs[str(curve_path)] = sha256_file(curve_path)
    if not runs:
        raise DataError(f"{runs_dir}: no run folders (<strategy>-s<seed>/run.json)")
    if not any(strategy == CONTROL for strategy, _ in runs):
        raise DataError(f"{runs_dir}: no {CONTROL} run, the control every target is measured against")
    return runs, inputs


def summarise(
    runs_dir: str | Path, cfg: CurriculumConfig, *, out_dir: str | Path, difficulty_path: str | Path | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Measure every run against full-random, write the table and plots, return (summary, inputs)."""
    runs, inputs = read_runs(runs_dir)
    out_dir = Path(out_dir)
    fractions = list(cfg.target_fractions)
    rows = per_run(runs, fractions, cfg.max_steps)
    targets = summarise_targets(rows, cfg.confidence)
    finals = final_losses(runs, cfg.confidence)
    order = sorted(targets, key=lambda s: STRATEGIES.index(s) if s in STRATEGIES else len(STRATEGIES))
    targets = {s: targets[s] for s in order}
    markdown = table(targets, finals, fractions, cfg.confidence)
    with atomic_open(out_dir / "table.md") as handle:
        handle.write(markdown)
    write_csv(rows, out_dir / "targets.csv")
    plot_curves(runs, out_dir / "loss_vs_tokens.png", out_dir / "data_share.png", order)
    if difficulty_path is not None:
        plot_difficulty(difficulty_path, out_dir / "difficulty.png")
        inputs[str(difficulty_path)] = sha256_file(difficulty_path)
    seeds = sorted({seed for _, seed in runs})
    summary = {
        "seeds": seeds,
        "target_fractions": fractions,
        "confidence": cfg.confidence,
        "final_loss": {s: finals[s] for s in order},
        "targets": targets,
    }
    lm, rand = targets.get("iter-lmloss", {}).get("1.0"), targets.get("iter-random", {}).get("1.0")
    if lm and rand and lm["steps"]["mean"] is not None and rand["steps"]["mean"] is not None:
        summary["lmloss_vs_random_steps_to_final"] = {
            "iter-lmloss": lm["steps"]["mean"],
            "iter-random": rand["steps"]["mean"],
        }
    return summary, inputs


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def _stack(curves: Sequence[Sequence[Mapping[str, Any]]], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """Common x values (those every seed evaluated) and the y values per seed, [seeds, points]."""
    common = sorted(set.intersection(*[{row[x] for row in c} for c in curves]))
    table_ = np.asarray([[next(r[y] for r in c if r[x] == value) for value in common] for c in curves], dtype=float)
    return np.asarray(common, dtype=float), table_


def plot_curves(
    runs: Mapping[tuple[str, int], Sequence[Mapping[str, Any]]], loss_path: Path, share_path: Path, order: Sequence[str]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_loss, ax_loss = plt.subplots(figsize=(8, 5))
    fig_share, ax_share = plt.subplots(figsize=(8, 4))
    styles = ("-", "--", "-.", ":")
    for number, strategy in enumerate(order):
        curves = [curve for (s, _), curve in sorted(runs.items()) if s == strategy]
        tokens, losses = _stack(curves, "tokens", "loss")
        (line,) = ax_loss.plot(
            tokens, losses.mean(axis=0), label=f"{strategy} (n={len(curves)})", lw=1.2, ls=styles[number % len(styles)]
        )
        if len(curves) > 1:
            ax_loss.fill_between(tokens, losses.min(axis=0), losses.max(axis=0), color=line.get_color(), alpha=0.2)
        steps, share = _stack(curves, "step", "seen_share")
        # a row describes the pool of the steps up to its evaluation
        ax_share.step(
            steps,
            100 * share.mean(axis=0),
            where="pre",
            label=strategy,
            color=line.get_color(),
            ls=styles[number % len(styles)],
        )
    ax_loss.set_xlabel("training tokens seen")
    ax_loss.set_ylabel("validation loss")
    ax_loss.set_title("Validation loss vs tokens (mean over seeds; band: min..max)")
    ax_loss.legend(fontsize="small")
    ax_share.set_xlabel("step")
    ax_share.set_ylabel("documents in the pool so far (%)")
    ax_share.set_title("Data share by step (mean over seeds)")
    ax_share.legend(fontsize="small")
    fig_loss.tight_layout()
    fig_share.tight_layout()
    _save(fig_loss, loss_path)
    _save(fig_share, share_path)


def plot_difficulty(path: str | Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses, lengths = [], []
    for lineno, record in iter_jsonl(Path(path)):
        if not isinstance(record, dict):
            raise DataError(f"{path}:{lineno}: expected an object")
        if isinstance(record.get("loss"), (int, float)):
            losses.append(float(record["loss"]))
        if isinstance(record.get("words_per_sentence"), (int, float)):
            lengths.append(float(record["words_per_sentence"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.hist(losses, bins=50, color="#267365")
    left.set_xlabel("reference-LM loss per document")
    left.set_ylabel("documents")
    right.hist(lengths, bins=50, color="#C37EDB")
    right.set_xlabel("mean words per sentence")
    fig.suptitle("Difficulty keys of the training documents (iter-lmloss, iter-sentlen)")
    fig.tight_layout()
    _save(fig, out)
