"""Section `curriculum`: does the curriculum save data? Tokens to a target loss, and loss vs tokens per strategy.

Written before the difficulty/curriculum stages merged, so it reads defensively. Expected schema of
`curriculum.json`:

    {"target_loss": 4.2,                          # optional; the loss every strategy is timed to
     "baseline": "full-random",                   # optional; the strategy savings are measured against
     "strategies": {"<strategy>": {"tokens_to_target": 1.2e6 | null, "steps_to_target": 300 | null,
                                   "data_fraction": 0.35, "final_val_loss": 4.1, ...}, ...}}

Every numeric key of a strategy becomes a column (so extra keys show up without a code change), in the order
first seen. Curves, when present: `curriculum/<strategy>/val.csv` with `tokens` and `loss` columns (as the
pretrain curves). The headline: tokens to target of each strategy relative to the baseline (the `baseline`
key, else a strategy named `full-random`, `random` or `full`).
"""

from __future__ import annotations

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import grid, strategy_colour, to_png
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, fmt, is_number, label
from tinyhelen.report.sections.pretrain import read_curve

BASELINE_NAMES = ("full-random", "random", "full", "full-repeated")


def curriculum_section(ctx: Context) -> Section | None:
    path = ctx.path("curriculum.json")
    if not path.is_file():
        return None
    data = read_json(path)
    source = ctx.name("curriculum.json")
    section = Section(
        "curriculum",
        "Curriculum: does ordering by difficulty save data?",
        "The 1M-parameter proxy trained with each data-introduction strategy; the tokens and "
        "steps it needed to reach the target validation loss.",
        inputs=[source],
    )
    strategies = data.get("strategies") if isinstance(data, dict) else None
    if not isinstance(strategies, dict) or not strategies:
        section.notes.append(f"`{source}` has no `strategies` mapping in the expected schema; nothing shown.")
        return section
    keys: list[str] = []
    for values in strategies.values():
        if isinstance(values, dict):
            keys += [k for k, v in values.items() if k not in keys and (is_number(v) or v is None)]
    rows = [
        [
            label(name),
            *[
                Cell(
                    fmt(values.get(k), ctx.digits) if isinstance(values, dict) else "–",
                    f"{source}: strategies.{name}.{k}",
                )
                for k in keys
            ],
        ]
        for name, values in strategies.items()
    ]
    target = data.get("target_loss")
    notes = (
        [f"Target validation loss {fmt(target, ctx.digits)} (`{source}: target_loss`); – = never reached."]
        if is_number(target)
        else ["– = not reached or not reported."]
    )
    section.tables.append(
        Table(
            "Tokens and steps to the target loss per strategy",
            ["strategy", *[k.replace("_", " ") for k in keys]],
            rows,
            [f"{source}: strategies.<strategy>.<key>"],
            notes,
        )
    )
    _headline(section, data, strategies, source)
    _figure(ctx, section, strategies, target)
    return section


def _headline(section: Section, data: dict, strategies: dict, source: str) -> None:
    baseline = (
        data.get("baseline")
        if data.get("baseline") in strategies
        else next((n for n in BASELINE_NAMES if n in strategies), None)
    )
    base = strategies.get(baseline, {}) if baseline else {}
    base_tokens = base.get("tokens_to_target") if isinstance(base, dict) else None
    for name, values in strategies.items():
        if name == baseline or not isinstance(values, dict):
            continue
        tokens = values.get("tokens_to_target")
        if is_number(tokens) and is_number(base_tokens) and base_tokens > 0:
            result = (
                f"{100 * (1 - tokens / base_tokens):+.0f}% tokens saved ({fmt(tokens, 0)} vs {fmt(base_tokens, 0)})"
            )
        elif is_number(base_tokens):
            result = "did not reach the target"
        else:
            continue
        section.headlines.append(
            Headline(
                "3. Does the curriculum save data?",
                f"{name} vs {baseline}: tokens to target loss",
                result + " — one run per strategy, no interval",
                f"{source}: strategies.{{{name},{baseline}}}.tokens_to_target",
            )
        )


def _figure(ctx: Context, section: Section, strategies: dict, target) -> None:
    curves = {}
    for name in strategies:
        path = ctx.path(f"curriculum/{name}/val.csv")
        if path.is_file():
            section.inputs.append(ctx.name(f"curriculum/{name}/val.csv"))
            points = read_curve(path)
            if points:
                curves[name] = points
    if not curves:
        return
    fig, (ax,) = grid(1, columns=1, width=6.0, height=3.4)
    for index, (name, points) in enumerate(curves.items()):
        tokens, losses = zip(*points, strict=False)
        ax.plot(tokens, losses, color=strategy_colour(index), label=name)
    if is_number(target):
        ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label="target loss")
    ax.set_title("Curriculum: validation loss by training tokens")
    ax.set_xlabel("training tokens seen")
    ax.set_ylabel("validation loss (nats/token)")
    ax.legend(title="strategy")
    section.figures.append(
        Figure(
            "curriculum_loss",
            "Validation loss by tokens per curriculum strategy.",
            to_png(fig, ctx.dpi),
            [ctx.name("curriculum/<strategy>/val.csv") + ": tokens, loss"],
        )
    )
