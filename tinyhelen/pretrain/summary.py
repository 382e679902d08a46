"""The pretraining summary over the model grid: validation loss per (arch, corpus) with its interval over
pretraining seeds, the paired leaner - ori difference per arch, and one plot of validation loss by tokens.

    summary = summarise_pretraining(grid_models(cfg.archs, cfg.corpora, cfg.seeds), "metrics/pretrain")
    write_loss_plot(summary, "metrics/pretrain", "results/pretrain_summary/loss_by_tokens.png")

It reads exactly the models the grid names (`metrics/pretrain/<name>.json` and its curves), never other files
that happen to be in the folder, and fails naming the first one that is missing.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import read_json, sha256_file
from tinyhelen.core.plots import CORPUS_COLORS, save_png
from tinyhelen.core.stats import mean_interval, paired_difference
from tinyhelen.grid import GridModel

#: The headline numbers of `metrics/pretrain_summary.json` (`repro.pick` patterns).
HEADLINE_METRICS = ("val_loss", "leaner_minus_ori")
_COMPARE = ("leaner", "ori")


def _read_curve(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        raise DataError(f"{path}: missing (run the pretrain stage for this model)")
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]


def summarise_pretraining(models: Sequence[GridModel], metrics_dir: str | Path) -> dict[str, Any]:
    """Per model, per (arch, corpus) over seeds, and leaner - ori per arch (paired by seed).

    Returns:
        `{"models": {name: {...}}, "val_loss": {arch: {corpus: interval}}, "leaner_minus_ori": {arch:
        interval}, "inputs": {path: sha256}}`.
    """
    metrics_dir = Path(metrics_dir)
    rows, inputs = {}, {}
    by_group: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for model in models:
        path = metrics_dir / f"{model.name}.json"
        if not path.is_file():
            raise DataError(f"{path}: missing (run `dvc repro pretrain` for {model.name})")
        metrics = read_json(path)
        inputs[str(path)] = sha256_file(path)
        rows[model.name] = {
            "arch": model.arch,
            "corpus": model.corpus,
            "seed": model.seed,
            "val_loss": metrics.get("val/loss"),
            "val_perplexity": metrics.get("val/perplexity"),
            "tokens_seen": metrics.get("tokens_seen"),
        }
        by_group[(model.arch, model.corpus)][model.seed] = metrics.get("val/loss")
    val_loss: dict[str, dict[str, Any]] = defaultdict(dict)
    for (arch, corpus), losses in by_group.items():
        val_loss[arch][corpus] = mean_interval(list(losses.values()))
    differences = {}
    for arch in dict.fromkeys(m.arch for m in models):
        if all((arch, c) in by_group for c in _COMPARE):
            seeds = sorted(set(by_group[(arch, "leaner")]) & set(by_group[(arch, "ori")]))
            differences[arch] = paired_difference(
                [by_group[(arch, "leaner")][s] for s in seeds], [by_group[(arch, "ori")][s] for s in seeds]
            )
    return {"models": rows, "val_loss": dict(val_loss), "leaner_minus_ori": differences, "inputs": inputs}


def _fmt(interval: dict[str, Any]) -> str:
    if interval.get("mean") is None:
        return "-"
    text = f"{interval['mean']:.4f}"
    if interval.get("std") is not None:
        text += f" ± {interval['std']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}]"
    return text + f" (n={interval['n']})"


def markdown_table(summary: dict[str, Any]) -> str:
    """Validation loss per arch and corpus (mean ± std [95% interval] over seeds) and leaner - ori."""
    corpora = list(dict.fromkeys(c for row in summary["val_loss"].values() for c in row))
    lines = [
        "| arch | " + " | ".join(f"val loss, {c}" for c in corpora) + " | leaner - ori |",
        "|---|" + "---|" * (len(corpora) + 1),
    ]
    for arch, row in summary["val_loss"].items():
        diff = summary["leaner_minus_ori"].get(arch)
        lines.append(
            f"| {arch} | "
            + " | ".join(_fmt(row[c]) if c in row else "-" for c in corpora)
            + f" | {_fmt(diff) if diff else '-'} |"
        )
    return (
        "\n".join(lines) + "\n\nMean ± std over pretraining seeds, [95% Student-t interval]; with one seed "
        "there is no interval.\n"
    )


def write_loss_plot(summary: dict[str, Any], metrics_dir: str | Path, path: str | Path) -> Path:
    """Validation loss by tokens seen, one panel per arch, one colour per corpus: the mean over seeds with
    the seeds' min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    archs = list(summary["val_loss"])
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 3.4), squeeze=False)
    for ax, arch in zip(axes[0], archs, strict=True):
        for corpus in summary["val_loss"][arch]:
            names = [n for n, r in summary["models"].items() if r["arch"] == arch and r["corpus"] == corpus]
            curves = [_read_curve(Path(metrics_dir) / "curves" / n / "val.csv") for n in names]
            length = min(len(c) for c in curves)
            if not length:
                continue
            tokens = np.array([row["tokens"] for row in curves[0][:length]])
            losses = np.array([[row["loss"] for row in c[:length]] for c in curves])
            color = CORPUS_COLORS.get(corpus)
            ax.plot(tokens, losses.mean(axis=0), marker="o", ms=3, color=color, label=f"{corpus} (n={len(names)})")
            if len(names) > 1:
                ax.fill_between(tokens, losses.min(axis=0), losses.max(axis=0), color=color, alpha=0.2)
        ax.set_title(f"{arch}: validation loss")
        ax.set_xlabel("tokens seen")
        ax.set_ylabel("validation loss (nats / token)")
        ax.legend(fontsize="small")
    fig.tight_layout()
    return save_png(fig, path)
