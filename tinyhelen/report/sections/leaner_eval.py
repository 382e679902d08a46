"""Section `leaner_eval`: instruction following on Leaner-Eval, per split, with intervals.

Written before the generate/judge stages merged, so it reads defensively. Expected schema of
`leaner_eval.json`:

    {"mode": "judge" | "judge_free",              # optional; shown in the caption
     "judge": "<model id>",                       # optional
     "models": {"<model>": {"splits": {"<split>": {"<metric>": <estimate>, ...}, ...}}, ...}}

`<model>` is any name (e.g. `llama-leaner-s65` or `<pretrain>-<instruct>` recipes); `<split>` is a Leaner-Eval
file (`all`, `split-0-7`, ...); an `<estimate>` is a number or `{mean, std?, n?, ci95: [low, high]}` (or
`ci_low`/`ci_high`), see `tinyhelen.report.stats`. A model mapping without `splits` is read as the splits
themselves. One table per metric (models x splits); the headline compares the leaner- and ori-pretrained
models on the `all` split (or the first split) for the first metric.
"""

from __future__ import annotations

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import corpus_colour, grid, to_png
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, label
from tinyhelen.report.stats import read_estimate

HATCHES = ("", "//", "..", "xx")
"""Several models of one corpus share its colour and differ by hatching."""
PREFERRED = ("sum", "total", "score", "overall")
"""The headline metric: the first of these present (the paper's is the 0-15 sum), else the first seen."""


def _corpus(name: str) -> str:
    """The pretraining corpus of a model name (`llama-leaner-s65` and `llama-leaner-ori` recipes: leaner)."""
    parts = name.split("-")
    return parts[1] if len(parts) > 1 else ""


def _splits(entry) -> dict:
    if not isinstance(entry, dict):
        return {}
    splits = entry.get("splits", entry)
    return {k: v for k, v in splits.items() if isinstance(v, dict)} if isinstance(splits, dict) else {}


def leaner_eval_section(ctx: Context) -> Section | None:
    path = ctx.path("leaner_eval.json")
    if not path.is_file():
        return None
    data = read_json(path)
    source = ctx.name("leaner_eval.json")
    mode = data.get("mode", "?") if isinstance(data, dict) else "?"
    judge = f", judge `{data['judge']}`" if isinstance(data, dict) and data.get("judge") else ""
    section = Section(
        "leaner_eval",
        "Leaner-Eval: do leaner-trained models follow instructions better?",
        f"Scores of the generated answers per Leaner-Eval split (mode `{mode}`{judge}).",
        inputs=[source],
    )
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not models:
        section.notes.append(f"`{source}` has no `models` mapping in the expected schema; nothing shown.")
        return section
    splits: list[str] = []
    metrics: list[str] = []
    for entry in models.values():
        for split, values in _splits(entry).items():
            splits += [split] if split not in splits else []
            metrics += [m for m in values if m not in metrics and read_estimate(values[m]) is not None]
    metrics.sort(key=lambda m: PREFERRED.index(m) if m in PREFERRED else len(PREFERRED))  # stable otherwise
    if "all" in splits:
        splits.remove("all")
        splits.insert(0, "all")
    level = f"{round(100 * ctx.interval)}%"
    for metric in metrics:
        rows = []
        for name in sorted(models):
            cells = [label(name)]
            for split in splits:
                est = read_estimate(_splits(models[name]).get(split, {}).get(metric))
                cells.append(
                    Cell("–")
                    if est is None
                    else Cell(est.text(ctx.digits), f"{source}: models.{name}.splits.{split}.{metric}")
                )
            rows.append(cells)
        section.tables.append(
            Table(
                f"Leaner-Eval `{metric}` per split: mean ± std [interval]",
                ["model", *splits],
                rows,
                [f"{source}: models.<model>.splits.<split>.{metric}"],
                [f"Intervals as the stage reports them (expected: {level})."],
            )
        )
    if metrics and splits:
        _headline_and_figure(ctx, section, models, splits, metrics[0], source)
    return section


def _headline_and_figure(
    ctx: Context, section: Section, models: dict, splits: list[str], metric: str, source: str
) -> None:
    split = splits[0]
    by_corpus: dict[str, list[str]] = {}
    for name in sorted(models):
        by_corpus.setdefault(_corpus(name), []).append(name)
    for corpus in ("leaner", "ori"):
        for name in by_corpus.get(corpus, []):
            est = read_estimate(_splits(models[name]).get(split, {}).get(metric))
            if est is not None:
                section.headlines.append(
                    Headline(
                        "2. Do leaner-trained models follow instructions better? (Leaner-Eval)",
                        f"{name}: `{metric}` on `{split}`",
                        est.text(ctx.digits),
                        f"{source}: models.{name}.splits.{split}.{metric}",
                    )
                )
    import numpy as np

    names = sorted(models)
    fig, (ax,) = grid(1, columns=1, width=max(5.0, 0.9 * len(splits) * max(len(names), 1) / 2 + 3), height=3.2)
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(splits))
    corpora = {name: _corpus(name) for name in names}
    for i, name in enumerate(names):
        corpus = corpora[name]
        ests = [read_estimate(_splits(models[name]).get(s, {}).get(metric)) for s in splits]
        means = [np.nan if e is None else e.mean for e in ests]
        err = [
            [0 if e is None or e.low is None else e.mean - e.low for e in ests],
            [0 if e is None or e.high is None else e.high - e.mean for e in ests],
        ]
        earlier = sum(1 for n in names[:i] if corpora[n] == corpus)
        ax.bar(
            x + (i - (len(names) - 1) / 2) * width,
            means,
            width,
            yerr=err,
            capsize=2,
            label=name,
            color=corpus_colour(corpus, i),
            hatch=HATCHES[earlier % len(HATCHES)],
            edgecolor="white",
        )
    ax.set_xticks(x, splits)
    ax.set_xlabel("Leaner-Eval split")
    ax.set_ylabel(f"{metric} (mean score)")
    ax.set_title(f"Leaner-Eval: {metric} per split")
    ax.legend(title="model", fontsize="small")
    section.figures.append(
        Figure(
            "leaner_eval",
            f"Leaner-Eval `{metric}` per split (error bars: the reported interval).",
            to_png(fig, ctx.dpi),
            [f"{source}: models.<model>.splits.<split>.{metric}"],
        )
    )
