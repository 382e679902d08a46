"""Section `curriculum`: does the curriculum save data? Steps to a target loss per strategy vs full-random.

Reads `curriculum.json`, written by the curriculum_summary stage (`tinyhelen.curriculum.summary`, numbers from
`tinyhelen.curriculum.measure`):

    {"seeds": [65, ...], "target_fractions": [0.25, 0.5, 0.75, 1.0], "confidence": 0.95,
     "final_loss": {"<strategy>": {"mean", "low", "high", "n"}, ...},
     "targets": {"<strategy>": {"<fraction>": {"reached": k, "seeds": n, "steps": {mean, low, high, n},
                                               "steps_saved_pct": {...}, "data_used_pct": {...},
                                               "compute_saved_pct": {...}}, ...}, ...},
     "lmloss_vs_random_steps_to_final": {"iter-lmloss": steps, "iter-random": steps}}   # optional

Per seed, the target of fraction f is the same seed's full-random validation loss at f of training (1.0: its
final loss); `steps` is the mean steps to reach it over the seeds that reached it, the savings are vs
full-random's steps (data used: share of the training documents in the pool by then, relative to full-random;
compute saved counts iter-selfloss's scoring passes); each `{mean, low, high, n}` is a Student-t `confidence`
interval over those seeds (no interval from one seed). `<fraction>` keys are `str(float)` (`"1.0"`).
Tables: steps to each target per strategy with the savings; the final validation loss per strategy. Figure:
steps saved % by target fraction per strategy. The loss-vs-tokens curves are not in the metrics tree (they are
results/curriculum/arms/<strategy>-s<seed>/curve.csv, plotted by the stage as
results/curriculum/summary/loss_vs_tokens.png). The headline (question 3): iter-lmloss and iter-random steps
saved % at the final target (else the largest fraction) with the interval, or that no iterative arm reached it.
"""

from __future__ import annotations

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import grid, strategy_colour, to_png
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, is_number, label, number_cell
from tinyhelen.report.stats import Estimate, read_estimate, verdict

CONTROL = "full-random"
HEADLINE_ARMS = ("iter-lmloss", "iter-random")
QUESTION = "3. Does the curriculum save data?"
COLUMNS = (
    ("steps", "steps to target"),
    ("steps_saved_pct", "steps saved %"),
    ("data_used_pct", "data used %"),
    ("compute_saved_pct", "compute saved %"),
)


def _fraction_label(key: str) -> str:
    try:
        value = float(key)
    except ValueError:
        return key
    return "final (1.0)" if value == 1.0 else f"@{value:g}"


def _fractions(data: dict, targets: dict) -> list[str]:
    """The target fraction keys, in `target_fractions` order (else first seen)."""
    keys: list[str] = [str(float(f)) for f in data.get("target_fractions") or [] if is_number(f)]
    for cells in targets.values():
        if isinstance(cells, dict):
            keys += [k for k in cells if k not in keys]
    return keys


def _cell(est: Estimate | None, digits: int, source: str) -> Cell:
    return Cell("–") if est is None else Cell(est.text(digits), source)


def curriculum_section(ctx: Context) -> Section | None:
    path = ctx.path("curriculum.json")
    if not path.is_file():
        return None
    data = read_json(path)
    data = data if isinstance(data, dict) else {}
    source = ctx.name("curriculum.json")
    seeds = data.get("seeds") or []
    confidence = data.get("confidence") if is_number(data.get("confidence")) else None
    level = f"{round(100 * confidence)}%" if confidence is not None else "the stage's"
    section = Section(
        "curriculum",
        "Curriculum: does ordering by difficulty save data?",
        "The proxy Llama trained with each data-introduction strategy; per seed, the steps it needed to reach "
        f"the same seed's {CONTROL} validation loss at each fraction of training, over "
        f"{len(seeds)} seed(s) ({', '.join(map(str, seeds)) or '?'}).",
        inputs=[source],
    )
    targets = {k: v for k, v in (data.get("targets") or {}).items() if isinstance(v, dict)}
    if not targets:
        section.notes.append(f"`{source}` has no `targets` mapping; nothing shown.")
        return section
    fractions = _fractions(data, targets)
    rows = []
    for strategy, cells in targets.items():
        for key in fractions:
            cell = cells.get(key)
            if not isinstance(cell, dict):
                continue
            reached, total = cell.get("reached"), cell.get("seeds")
            row = [label(strategy), label(_fraction_label(key))]
            row.append(
                Cell(f"{reached}/{total}", f"{source}: targets.{strategy}.{key}.reached, seeds")
                if is_number(reached) and is_number(total)
                else Cell("–")
            )
            for column, _ in COLUMNS:
                est = read_estimate(cell.get(column))
                row.append(_cell(est, 1, f"{source}: targets.{strategy}.{key}.{column}"))
            rows.append(row)
    section.tables.append(
        Table(
            f"Steps to the target loss per strategy vs {CONTROL}: mean [{level} t-interval over seeds reaching it]",
            ["strategy", "target", "seeds reached", *[title for _, title in COLUMNS]],
            rows,
            [f"{source}: targets.<strategy>.<fraction>.<key>"],
            [
                f"Target: the same seed's {CONTROL} validation loss at that fraction of training. Savings are vs "
                f"{CONTROL}'s steps to the same target (positive = fewer steps); data used % is relative to "
                f"{CONTROL}; – = no seed reached it. Tokens per run: results/curriculum/summary/targets.csv."
            ],
        )
    )
    finals = data.get("final_loss") if isinstance(data.get("final_loss"), dict) else {}
    if finals:
        section.tables.append(
            Table(
                f"Final validation loss per strategy: mean [{level} t-interval over seeds]",
                ["strategy", "final val loss", "seeds"],
                [
                    [
                        label(strategy),
                        _cell(read_estimate(stat), 4, f"{source}: final_loss.{strategy}"),
                        number_cell(
                            stat.get("n") if isinstance(stat, dict) else None, 0, f"{source}: final_loss.{strategy}.n"
                        ),
                    ]
                    for strategy, stat in finals.items()
                ],
                [f"{source}: final_loss.<strategy>"],
            )
        )
    section.notes.append(
        "Loss-vs-tokens curves are outside the metrics tree: results/curriculum/summary/loss_vs_tokens.png "
        "(from results/curriculum/arms/<strategy>-s<seed>/curve.csv)."
    )
    _headlines(section, targets, fractions, source)
    _figure(ctx, section, targets, fractions, source, level)
    return section


def _headline_fraction(fractions: list[str]) -> str | None:
    if "1.0" in fractions:
        return "1.0"
    numeric = [k for k in fractions if _is_float(k)]
    return max(numeric, key=float) if numeric else (fractions[-1] if fractions else None)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _headlines(section: Section, targets: dict, fractions: list[str], source: str) -> None:
    key = _headline_fraction(fractions)
    if key is None:
        return
    target = _fraction_label(key)
    arms = [a for a in HEADLINE_ARMS if isinstance(targets.get(a, {}).get(key), dict)]
    arms = arms or [s for s in targets if s.startswith("iter-") and isinstance(targets[s].get(key), dict)]
    for arm in arms:
        cell = targets[arm][key]
        reached, total = cell.get("reached", 0), cell.get("seeds", "?")
        est = read_estimate(cell.get("steps_saved_pct"))
        if not reached or est is None:
            result = f"did not reach the target (0/{total} seeds)"
        else:
            interval = "" if est.low is None else f" [{est.low:+.1f}, {est.high:+.1f}]"
            result = f"{est.mean:+.1f}% steps saved{interval} ({reached}/{total} seeds reached it)" + verdict(est)
        section.headlines.append(
            Headline(
                QUESTION,
                f"{arm} vs {CONTROL}: steps saved % to the {target} target loss",
                result,
                f"{source}: targets.{arm}.{key}.steps_saved_pct",
            )
        )
    reached_any = any(
        isinstance(cells.get(key), dict) and cells[key].get("reached")
        for strategy, cells in targets.items()
        if strategy.startswith("iter-")
    )
    if not reached_any:
        section.headlines.append(
            Headline(
                QUESTION,
                f"iterative arms vs {CONTROL}: steps to the {target} target loss",
                "no iterative arm reached the target",
                f"{source}: targets.<iter-*>.{key}.reached",
            )
        )


def _figure(ctx: Context, section: Section, targets: dict, fractions: list[str], source: str, level: str) -> None:
    arms = [s for s in targets if s != CONTROL]
    numeric = [k for k in fractions if _is_float(k)]
    if not arms or not numeric:
        return
    fig, (ax,) = grid(1, columns=1, width=6.0, height=3.4)
    xs = [float(k) for k in numeric]
    drawn = False
    for index, arm in enumerate(arms):
        ests = [read_estimate(targets[arm].get(k, {}).get("steps_saved_pct")) for k in numeric]
        points = [(x, e) for x, e in zip(xs, ests, strict=True) if e is not None]
        if not points:
            continue
        drawn = True
        ax.errorbar(
            [x for x, _ in points],
            [e.mean for _, e in points],
            yerr=[
                [0 if e.low is None else e.mean - e.low for _, e in points],
                [0 if e.high is None else e.high - e.mean for _, e in points],
            ],
            color=strategy_colour(index),
            marker="o",
            capsize=3,
            label=arm,
        )
    if not drawn:
        ax.text(0.5, 0.5, "no strategy reached any target", ha="center", va="center", transform=ax.transAxes)
    ax.axhline(0, color="black", linestyle="--", linewidth=0.8, label=f"{CONTROL}")
    ax.set_title(f"Curriculum: steps saved vs {CONTROL} by target")
    ax.set_xlabel(f"target: {CONTROL} loss at this fraction of training")
    ax.set_ylabel("steps saved (%)")
    ax.legend(title="strategy", fontsize="small")
    section.figures.append(
        Figure(
            "curriculum_steps_saved",
            f"Steps saved % vs {CONTROL} per strategy and target (error bars: {level} t-interval over the seeds "
            "that reached the target; a missing point: no seed reached it).",
            to_png(fig, ctx.dpi),
            [f"{source}: targets.<strategy>.<fraction>.steps_saved_pct"],
        )
    )
