"""Section `glue`: Leaner-GLUE in the paper's layout (models x tasks), and the leaner − ori difference.

Reads `glue_summary.json` (stage `glue_summary`):
- `columns`: the task columns in order (`cola`, ..., `mnli-m`, `mnli-mm`, ...);
- `models.<name>.{arch, init, average.test, test.<column>}` where a score is a number or `{mean, std}` (optionally
  `n`/`seeds` and an interval: `ci95: [low, high]` or `ci_low`/`ci_high`), scores in 0..1.
- Models named `<arch>-<init>-s<seed>` (one row per pretraining seed) are pooled here: mean ± std over the
  seeds and a Student-t interval; leaner − ori is paired by seed.
- Optional, when the summary computes them itself (expected from the seeds-aware glue_summary):
  `differences.<arch>.<column or "average">` (also accepted under `paired_differences` or `leaner_minus_ori`)
  as an estimate of leaner − ori; these are shown as given, in preference to the report's own pooling.
Without seeds or differences, the single-seed values and their plain difference are shown (no interval).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tinyhelen.core.io import read_json
from tinyhelen.glue.aggregate import COLUMN_LABELS
from tinyhelen.report.figures import corpus_colour, grid, grouped_bars, to_png
from tinyhelen.report.names import arch_label, corpus_label, order_key, parse_model_name
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, get, is_number, label
from tinyhelen.report.stats import Estimate, read_estimate, summarise
from tinyhelen.report.stats import verdict as verdict_text

DIFFERENCE_KEYS = ("differences", "paired_differences", "leaner_minus_ori")
AVERAGE = "average"


def _score(row: dict, column: str) -> Any:
    """A model row's test score: nested (`test.<task>`, `average.test`) or, as glue_summary writes its per-model
    rows, flat (`<task>`, `average`: test scores)."""
    nested = get(row, ["average", "test"]) if column == AVERAGE else get(row, ["test", column])
    if nested is not None:
        return nested
    flat = row.get("average" if column == AVERAGE else column)
    return None if isinstance(flat, dict) else flat


def _group_rows(models: dict) -> dict[tuple[str, str], dict[int | None, tuple[str, dict]]]:
    groups: dict[tuple[str, str], dict[int | None, tuple[str, dict]]] = defaultdict(dict)
    for name, row in models.items():
        parsed = parse_model_name(name)
        arch = row.get("arch") or (parsed.arch if parsed else name)
        init = row.get("init") or (parsed.corpus if parsed else "")
        seed = row.get("seed", parsed.seed if parsed else None)
        if isinstance(init, str) and parsed and parsed.seed is not None and init.endswith(f"-s{parsed.seed}"):
            init = init.removesuffix(f"-s{parsed.seed}")
        groups[(arch, init)][seed] = (name, row)
    return groups


def _pooled(group: dict, column: str, level: float) -> Estimate | None:
    """One row: its estimate as written; several seeds: mean ± std and a t interval over the seeds' means.
    A row without a seed beside per-seed rows is the summary's own pooling of them, and is used as written."""
    if len(group) == 1 or None in group:
        _, row = group[None] if None in group else next(iter(group.values()))
        return read_estimate(_score(row, column))
    means = [e.mean for e in (read_estimate(_score(row, column)) for _, row in group.values()) if e is not None]
    return summarise(means, level)


def _difference(summary: dict, groups: dict, arch: str, column: str, level: float) -> tuple[Estimate | None, str]:
    for key in DIFFERENCE_KEYS:
        given = read_estimate(get(summary, [key, arch, column]))
        if given is not None:
            return given, f"{key}.{arch}.{column}"
    leaner, ori = groups.get((arch, "leaner")), groups.get((arch, "ori"))
    if not leaner or not ori:
        return None, ""
    common = sorted(s for s in set(leaner) & set(ori) if s is not None)
    if common:
        values = []
        for seed in common:
            a, b = read_estimate(_score(leaner[seed][1], column)), read_estimate(_score(ori[seed][1], column))
            if a is not None and b is not None:
                values.append(a.mean - b.mean)
        return summarise(values, level), f"paired over seeds {', '.join(map(str, common))}"
    a, b = _pooled(leaner, column, level), _pooled(ori, column, level)
    if a is None or b is None:
        return None, ""
    return Estimate(a.mean - b.mean, None, None, None, 1), "single values, no interval"


def glue_section(ctx: Context) -> Section | None:
    """The Leaner-GLUE section, or None when `glue_summary.json` is absent."""
    path = ctx.path("glue_summary.json")
    if not path.is_file():
        return None
    summary = read_json(path)
    source = ctx.name("glue_summary.json")
    models = summary.get("models") or {}
    columns = list(summary.get("columns") or [])
    section = Section(
        "glue",
        "Leaner-GLUE: does leaner pretraining help fine-tuning?",
        "Every model is fine-tuned and tested on the same Leaner-GLUE data; test scores x 100 at "
        "each task's best learning rate (glue_summary's rules).",
        inputs=[source],
    )
    if not models:
        section.notes.append(f"`{source}` lists no models.")
        return section
    groups = _group_rows(models)
    ordered = sorted(groups, key=lambda g: order_key(*g))
    pooled_seeds = any(len(g) > 1 and None not in g for g in groups.values())
    rows = []
    for arch, init in ordered:
        group = groups[(arch, init)]
        names = [name for name, _ in group.values()]
        pattern = group[None][0] if None in group else names[0] if len(names) == 1 else f"{arch}-{init}-s<seed>"
        seeds = sorted(s for s in group if s is not None)
        cells = [
            label(f"{arch_label(arch)} ({corpus_label(init)})"),
            Cell(", ".join(map(str, seeds)) if seeds else "–"),
        ]
        for column in [*columns, AVERAGE]:
            est = _pooled(group, column, ctx.interval)
            key = "average.test" if column == AVERAGE else f"test.{column}"
            cells.append(
                Cell("–")
                if est is None
                else Cell(est.scaled(100).text(1, interval=False), f"{source}: models.{pattern}.{key}")
            )
        rows.append(cells)
    spread = (
        "std over pretraining seeds (the summary's per-seed rows pooled)"
        if pooled_seeds
        else "std as the summary gives it (over fine-tuning seeds at the best LR, for one pretraining seed)"
    )
    skipped = sorted(
        {t for _, row in ((n, r) for g in groups.values() for n, r in g.values()) for t in (row.get("skipped") or [])}
    )
    notes = [
        (
            f"Cells: mean ± {spread}. CoLA: MCC; MRPC, QQP: mean of accuracy and F1; STS-B: mean of Pearson "
            "and Spearman; others: accuracy. Avg: mean task score over the tasks that ran."
        )
    ]
    if skipped:
        notes.append(f"Skipped (no train or validation file): {', '.join(skipped)} (`{source}: models.*.skipped`).")
    section.tables.append(
        Table(
            "Leaner-GLUE test scores x 100 (the paper's layout)",
            ["model", "pretraining seeds", *[COLUMN_LABELS.get(c, c) for c in columns], "Avg"],
            rows,
            [f"{source}: models.<model>.test.<task>", f"{source}: models.<model>.average.test"],
            notes,
        )
    )
    _differences(ctx, section, summary, groups, columns, source)
    _figure(ctx, section, groups, ordered, source)
    return section


def _differences(ctx: Context, section: Section, summary: dict, groups: dict, columns: list[str], source: str) -> None:
    level = f"{round(100 * ctx.interval)}%"
    archs = sorted({a for a, i in groups if (a, "leaner") in groups and (a, "ori") in groups}, key=order_key)
    rows = []
    for arch in archs:
        cells = [label(arch_label(arch))]
        how_avg = ""
        for column in [*columns, AVERAGE]:
            est, how = _difference(summary, groups, arch, column, ctx.interval)
            if column == AVERAGE:
                how_avg = how
            where = (
                f"{source}: {how}"
                if how.startswith(DIFFERENCE_KEYS)
                else f"{source}: models.{arch}-leaner*.{'average.test' if column == AVERAGE else 'test.' + column}"
                f" − models.{arch}-ori*.(same) ({how})"
            )
            cells.append(Cell("–") if est is None else Cell(est.scaled(100).signed(1), where))
        rows.append(cells)
        est, how = _difference(summary, groups, arch, AVERAGE, ctx.interval)
        if est is not None:
            verdict = verdict_text(est)
            section.headlines.append(
                Headline(
                    "1. Does leaner pretraining help? (Leaner-GLUE)",
                    f"{arch_label(arch)}: GLUE average, leaner − ori (x 100)",
                    f"{est.scaled(100).signed(1)}{verdict}",
                    f"{source} ({how_avg})",
                )
            )
    if rows:
        section.tables.append(
            Table(
                f"Leaner − ori, test score x 100: mean [{level} interval]",
                ["arch", *[COLUMN_LABELS.get(c, c) for c in columns], "Avg"],
                rows,
                [f"{source}: models.<arch>-<corpus>[-s<seed>].test.<task>"]
                + [f"{source}: {k}.<arch>.<task>" for k in DIFFERENCE_KEYS if k in summary],
                [
                    (
                        "Positive: leaner pretraining scored higher. Intervals: Student t over pretraining seeds, "
                        "paired by "
                        "seed, or as the summary gives them; none for a single seed."
                    )
                ],
            )
        )


def _figure(ctx: Context, section: Section, groups: dict, ordered: list, source: str) -> None:
    archs = list(dict.fromkeys(a for a, _ in ordered))
    inits = sorted({i for _, i in ordered}, key=lambda i: order_key("", i))
    fig, (ax,) = grid(1, columns=1, width=max(4.5, 1.6 * len(archs) + 2), height=3.2)
    series = []
    for index, init in enumerate(inits):
        estimates = [_pooled(groups[(a, init)], AVERAGE, ctx.interval) if (a, init) in groups else None for a in archs]
        series.append(
            (
                corpus_label(init),
                corpus_colour(init, index),
                [None if e is None else 100 * e.mean for e in estimates],
                [None if e is None or e.std is None else 100 * e.std for e in estimates],
            )
        )
    if not any(is_number(v) for _, _, values, _ in series for v in values):
        import matplotlib.pyplot as plt

        plt.close(fig)
        return
    grouped_bars(ax, [arch_label(a) for a in archs], series)
    ax.set_title("Leaner-GLUE average test score by pretraining corpus")
    ax.set_xlabel("architecture")
    ax.set_ylabel("GLUE average (score x 100)")
    ax.legend(title="pretraining")
    section.figures.append(
        Figure(
            "glue_average",
            "Leaner-GLUE average per arch and pretraining corpus (error bars: std as in the table).",
            to_png(fig, ctx.dpi),
            [f"{source}: models.<model>.average.test"],
        )
    )
