"""Section `pretrain`: validation loss by tokens seen, leaner vs ori per arch, with seed bands.

Reads `pretrain/<model>.json` (stage `pretrain`: `val/loss`, `val/perplexity`, `val/accuracy`, `train/loss`,
`tokens_seen`, `params/non_embedding`) and `pretrain/curves/<model>/val.csv` (`step,tokens,loss[,accuracy]`),
where `<model>` is `<arch>-<corpus>` or `<arch>-<corpus>-s<seed>`. Seeds of one (arch, corpus) are pooled:
mean ± std and a Student-t interval; leaner − ori differences are paired by seed when both have the same seeds.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import corpus_colour, grid, to_png
from tinyhelen.report.names import arch_label, corpus_label, order_key, parse_model_name
from tinyhelen.report.page import Cell, Context, Figure, Section, Table, fmt, is_number, label
from tinyhelen.report.stats import Estimate, summarise

FINAL_COLUMNS = (
    ("val/loss", "val loss (nats/token)"),
    ("val/perplexity", "val perplexity"),
    ("val/accuracy", "val token accuracy"),
    ("train/loss", "train loss"),
)


def read_curve(path: Path) -> list[tuple[float, float]]:
    """(tokens, loss) pairs of a curves CSV; rows without both numbers are skipped."""
    points = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            try:
                points.append((float(row["tokens"]), float(row["loss"])))
            except (KeyError, TypeError, ValueError):
                continue
    return points


def _estimate_cell(est: Estimate | None, digits: int, source: str) -> Cell:
    return Cell("–") if est is None else Cell(est.text(digits), source)


def _band(curves: list[list[tuple[float, float]]], kind: str):
    """Tokens and mean/low/high loss over seeds at the token counts all seeds share."""
    import numpy as np

    shared = sorted(set.intersection(*[{t for t, _ in c} for c in curves]))
    table = np.array([[dict(c)[t] for t in shared] for c in curves])
    mean = table.mean(axis=0)
    if kind == "range":
        low, high = table.min(axis=0), table.max(axis=0)
    else:
        std = table.std(axis=0, ddof=1)
        low, high = mean - std, mean + std
    return shared, mean, low, high


def pretrain_section(ctx: Context) -> Section | None:
    """The pretraining section, or None when `pretrain/` holds no model metrics."""
    folder = ctx.path("pretrain")
    files = sorted(p for p in folder.glob("*.json") if ctx.keeps(p.stem)) if folder.is_dir() else []
    models = {}
    for path in files:
        name = parse_model_name(path.stem)
        if name is not None:
            models[path.stem] = (name, read_json(path))
    if not models:
        return None
    section = Section(
        "pretrain",
        "Pre-training: leaner vs ori",
        "Each model is validated on its own corpus's validation split, so a lower leaner loss says "
        "the leaner text is easier to predict as much as that the model learned more; the "
        "downstream sections compare the models on the same data.",
    )
    section.inputs += [ctx.name(f"pretrain/{stem}.json") for stem in models]
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for stem, (name, _) in models.items():
        groups[(name.arch, name.corpus)].append(stem)
    ordered = sorted(groups, key=lambda g: order_key(*g))
    rows = []
    for arch, corpus in ordered:
        stems = groups[(arch, corpus)]
        seeds = sorted(models[s][0].seed for s in stems if models[s][0].seed is not None)
        pattern = ctx.name(f"pretrain/{arch}-{corpus}{'-s<seed>' if seeds else ''}.json")
        cells = [
            label(arch_label(arch)),
            label(corpus_label(corpus)),
            Cell(", ".join(map(str, seeds)) if seeds else "one run"),
        ]
        for key, _ in FINAL_COLUMNS:
            est = summarise([models[s][1].get(key) for s in stems], ctx.interval)
            cells.append(_estimate_cell(est, ctx.digits, f"{pattern}: {key}"))
        first = models[stems[0]][1]
        cells += [
            Cell(fmt(first.get("tokens_seen"), 0), f"{pattern}: tokens_seen"),
            Cell(fmt(first.get("params/non_embedding"), 0), f"{pattern}: params/non_embedding"),
        ]
        rows.append(cells)
    level = f"{round(100 * ctx.interval)}%"
    section.tables.append(
        Table(
            "Final losses per arch and corpus",
            ["arch", "corpus", "seeds", *[h for _, h in FINAL_COLUMNS], "tokens seen", "non-embedding params"],
            rows,
            [ctx.name("pretrain/<model>.json") + ": <key>"],
            [f"Over several seeds: mean ± std [{level} Student-t interval]; one run: its value."],
        )
    )
    section.tables.extend(_differences(ctx, models, groups, level))
    _curves(ctx, section, models, groups, ordered)
    return section


def _differences(ctx: Context, models, groups, level: str) -> list[Table]:
    rows = []
    archs = sorted({a for a, _ in groups}, key=order_key)
    for arch in archs:
        if (arch, "leaner") not in groups or (arch, "ori") not in groups:
            continue
        leaner = {models[s][0].seed: models[s][1].get("val/loss") for s in groups[(arch, "leaner")]}
        ori = {models[s][0].seed: models[s][1].get("val/loss") for s in groups[(arch, "ori")]}
        paired = sorted(s for s in set(leaner) & set(ori) - {None} if is_number(leaner[s]) and is_number(ori[s]))
        if paired:
            est = summarise([leaner[s] - ori[s] for s in paired], ctx.interval)
            how = f"paired by seed ({len(paired)})"
        else:  # different seeds (or single unnamed runs): the difference of the means, no interval
            a, b = summarise(list(leaner.values()), ctx.interval), summarise(list(ori.values()), ctx.interval)
            est = None if a is None or b is None else Estimate(a.mean - b.mean, None, None, None, 1)
            how = "one run each" if len(leaner) == len(ori) == 1 else "difference of means (no common seeds)"
        source = (
            f"{ctx.name(f'pretrain/{arch}-leaner*.json')}: val/loss − "
            f"{ctx.name(f'pretrain/{arch}-ori*.json')}: val/loss"
        )
        rows.append([label(arch_label(arch)), _estimate_cell(est, ctx.digits, source), Cell(how)])
    if not rows:
        return []
    return [
        Table(
            "Leaner − ori final validation loss (each on its own corpus)",
            ["arch", f"leaner − ori (mean ± std [{level}])", "pairing"],
            rows,
            [ctx.name("pretrain/<arch>-<corpus>[-s<seed>].json") + ": val/loss"],
        )
    ]


def _curves(ctx: Context, section: Section, models, groups, ordered) -> None:
    archs = list(dict.fromkeys(a for a, _ in ordered))
    fig, axes = grid(len(archs), columns=2)
    drawn = False
    for ax, arch in zip(axes, archs, strict=False):
        for index, corpus in enumerate(c for a, c in ordered if a == arch):
            curves = []
            for stem in sorted(groups[(arch, corpus)]):
                path = ctx.path(f"pretrain/curves/{stem}/val.csv")
                if path.is_file():
                    section.inputs.append(ctx.name(f"pretrain/curves/{stem}/val.csv"))
                    points = read_curve(path)
                    if points:
                        curves.append(points)
            if not curves:
                continue
            drawn = True
            colour = corpus_colour(corpus, index)
            if len(curves) == 1:
                tokens, losses = zip(*curves[0], strict=False)
                ax.plot(tokens, losses, marker="o", markersize=3, color=colour, label=corpus_label(corpus))
                continue
            tokens, mean, low, high = _band(curves, ctx.seed_band)
            band = "± std" if ctx.seed_band == "std" else "min..max"
            ax.plot(tokens, mean, color=colour, label=f"{corpus_label(corpus)} (mean of {len(curves)} seeds)")
            ax.fill_between(tokens, low, high, color=colour, alpha=0.2, label=f"{corpus_label(corpus)} {band}")
        ax.set_title(f"{arch_label(arch)}: validation loss by tokens seen")
        ax.set_xlabel("training tokens seen")
        ax.set_ylabel("validation loss (nats/token)")
        ax.legend()
    if not drawn:
        import matplotlib.pyplot as plt

        plt.close(fig)
        section.notes.append("No validation curves found (`pretrain/curves/<model>/val.csv`).")
        return
    section.figures.append(
        Figure(
            "pretrain_val_loss",
            "Validation loss by training tokens, leaner vs ori per arch"
            + (" (band: seeds)" if any(len(v) > 1 for v in groups.values()) else "")
            + ".",
            to_png(fig, ctx.dpi),
            [ctx.name("pretrain/curves/<model>/val.csv") + ": tokens, loss"],
        )
    )
