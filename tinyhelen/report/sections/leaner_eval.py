"""Section `leaner_eval`: instruction following on Leaner-Eval: judged scores with intervals, judge-free metrics.

Reads `leaner_eval.json`, the headline file of the judge stage (`tinyhelen.eval.leaner_eval.headline`; every
number with its accounting is in results/leaner_eval/summary.json):

    {"judge": {"backend": "none" | "llm", "model"?, "nulls"?, "input_tokens"?, "output_tokens"?,
               "cost_estimate"?, "position_bias_sum"?},
     "selected": {"<recipe>": "<entry>", ...},                  # judged only: the checkpoint kept per recipe
     "inter": {"<entry>": {"grammar": m, "coherence": m, "specificity": m, "sum": m, "sum_ci95": [low, high],
                           "0-7": m, "7-8": m, "8-9": m, "9-10": m, "<split>_ci95": [low, high]}, ...},
                                                                    # judged only: mean scores
     "judge_free": {"<model>": {"answers", "answer_words", "empty_rate", "distinct_1", "distinct_2",
                                "repetition_rate", "word_list_share", "reference_perplexity",
                                "<metric>_ci95": [low, high] for the INTERVAL metrics}, ...},
     "judge_free_diff": {"<arch>-s<seed>-<variant>": {"leaner": name, "ori": name, "questions": n,
                         "<metric>": {"diff": d, "ci95": [low, high]}, ...}, ...}}

Model names are `<arch>-<corpus>-s<seed>-<variant>` (pretraining corpus, instruction variant), a selected
checkpoint `...@step-<N>`. Scores are 0-5 per axis, the sum 0-15; `sum_ci95` is a 95% bootstrap interval over
questions; the split columns are the mean sum per similarity split. With `judge.backend: none` (the sample
default) `inter` is empty or absent: the section then shows the judge-free table only and says the judge did not
run. Tables: the inter comparison (when judged) and the judge-free metrics per model. Figure: the judged sum per
model with its interval, else four judge-free metrics per model. The headline (question 2): per instruction
variant, the leaner- vs ori-pretrained model's judged sum with its interval; without a judge, the judge-free
leaner - ori differences with their paired bootstrap intervals, labelled as describing the answers, not judging
them.
"""

from __future__ import annotations

import re

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import corpus_colour, grid, to_png
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, fmt, is_number, label, number_cell
from tinyhelen.report.stats import Estimate, read_estimate

QUESTION = "2. Do leaner-trained models follow instructions better? (Leaner-Eval)"
HATCHES = ("", "//", "..", "xx")
"""Models of one pretraining corpus share its colour and differ by hatching (one per instruction variant)."""
AXES = ("grammar", "coherence", "specificity")
SPLITS = ("0-7", "7-8", "8-9", "9-10")
JUDGE_FREE = (
    ("answers", "answers"),
    ("answer_words", "words / answer"),
    ("empty_rate", "empty rate"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
    ("repetition_rate", "repetition rate"),
    ("word_list_share", "word-list share"),
    ("reference_perplexity", "ref. perplexity"),
)
PLOTTED = ("word_list_share", "distinct_2", "repetition_rate", "empty_rate")
#: Judge-free metrics with an interval (`<metric>_ci95`) and a leaner - ori difference in `judge_free_diff`.
INTERVAL = ("answer_words", "word_list_share", "reference_perplexity", "empty_rate")
_NAME = re.compile(
    r"^(?P<arch>[a-z0-9]+)-(?P<corpus>[a-z0-9_]+?)-s(?P<seed>\d+)-(?P<variant>[^@]+?)(?:@step-(?P<step>\d+))?$"
)


def parse_entry(name: str) -> tuple[str, str, str, str] | None:
    """`llama-leaner-s65-ori@step-300` -> (llama, leaner, 65, ori); None for another shape."""
    match = _NAME.match(name)
    return None if match is None else (match["arch"], match["corpus"], match["seed"], match["variant"])


def _corpus(name: str) -> str:
    parsed = parse_entry(name)
    return parsed[1] if parsed else (name.split("-")[1] if "-" in name else "")


def _variant(name: str) -> str:
    parsed = parse_entry(name)
    return parsed[3] if parsed else ""


def _sum_estimate(row) -> Estimate | None:
    if not isinstance(row, dict) or not is_number(row.get("sum")):
        return None
    return read_estimate({"mean": row["sum"], "ci95": row.get("sum_ci95")})


def leaner_eval_section(ctx: Context) -> Section | None:
    path = ctx.path("leaner_eval.json")
    if not path.is_file():
        return None
    data = read_json(path)
    data = data if isinstance(data, dict) else {}
    source = ctx.name("leaner_eval.json")
    judge = data.get("judge") if isinstance(data.get("judge"), dict) else {}
    backend = judge.get("backend", "?")
    inter = {k: v for k, v in (data.get("inter") or {}).items() if isinstance(v, dict)}
    free = {k: v for k, v in (data.get("judge_free") or {}).items() if isinstance(v, dict)}
    section = Section(
        "leaner_eval",
        "Leaner-Eval: do leaner-trained models follow instructions better?",
        f"The tuned models' answers to the Leaner-Eval questions (judge backend `{backend}`"
        + (f", judge `{judge['model']}`" if judge.get("model") else "")
        + "): judged scores (0-5 per axis, sum 0-15) when a judge ran, and judge-free metrics of the answers.",
        inputs=[source],
    )
    if not inter and not free:
        section.notes.append(f"`{source}` has neither `inter` nor `judge_free` entries; nothing shown.")
        return section
    if inter:
        _inter_table(ctx, section, inter, source)
        _judge_notes(section, judge, data.get("selected"), source)
    else:
        section.notes.append(
            f"The judge did not run (`judge.backend: {backend}`, `{source}: judge.backend`): "
            "judge-free metrics only, no judged scores."
        )
    if free:
        _judge_free_table(ctx, section, free, source)
    _headlines(ctx, section, inter, backend, source, data.get("judge_free_diff"))
    if inter:
        _inter_figure(ctx, section, inter, source)
    elif free:
        _judge_free_figure(ctx, section, free, source)
    return section


def _inter_table(ctx: Context, section: Section, inter: dict, source: str) -> None:
    rows = []
    for name in sorted(inter):
        row = inter[name]
        cells = [label(name)]
        cells += [number_cell(row.get(axis), ctx.digits, f"{source}: inter.{name}.{axis}") for axis in AXES]
        est = _sum_estimate(row)
        cells.append(Cell("–") if est is None else Cell(est.text(ctx.digits), f"{source}: inter.{name}.sum, sum_ci95"))
        for split in SPLITS:
            split_est = read_estimate({"mean": row.get(split), "ci95": row.get(f"{split}_ci95")})
            cells.append(
                Cell(split_est.text(ctx.digits), f"{source}: inter.{name}.{split}, {split}_ci95")
                if split_est is not None
                else Cell("–")
            )
        rows.append(cells)
    section.tables.append(
        Table(
            "Judged inter comparison (selected checkpoint per recipe): mean scores, sum [95% bootstrap interval]",
            ["model", *AXES, "sum (0-15)", *[f"sum {s}" for s in SPLITS]],
            rows,
            [f"{source}: inter.<model>.<score>", f"{source}: inter.<model>.sum_ci95"],
            [
                "Intervals: percentile bootstrap over questions, as the judge stage reports them. Split columns: "
                "mean sum per similarity split [its interval, when the metrics file has one]."
            ],
        )
    )


def _judge_notes(section: Section, judge: dict, selected, source: str) -> None:
    parts = [
        f"{key.replace('_', ' ')} {fmt(judge[key], 4)}"
        for key in ("nulls", "input_tokens", "output_tokens", "cost_estimate", "position_bias_sum")
        if is_number(judge.get(key))
    ]
    if parts:
        section.notes.append(f"Judge accounting (`{source}: judge`): " + ", ".join(parts) + ".")
    if isinstance(selected, dict) and selected:
        chosen = ", ".join(f"{recipe} → {entry}" for recipe, entry in sorted(selected.items()))
        section.notes.append(f"Selected checkpoints (`{source}: selected`): {chosen}.")


def _judge_free_table(ctx: Context, section: Section, free: dict, source: str) -> None:
    rows = [
        [label(name)] + [_free_cell(ctx, free[name], name, key, source) for key, _ in JUDGE_FREE]
        for name in sorted(free)
    ]
    section.tables.append(
        Table(
            "Judge-free metrics of the final models' answers",
            ["model", *[title for _, title in JUDGE_FREE]],
            rows,
            [f"{source}: judge_free.<model>.<metric>"],
            [
                "One generation per question; [95% bootstrap interval over questions] where the judge stage gives "
                "one. Distinct-n: distinct n-grams over all n-grams; repetition rate: share of an answer's word "
                "trigrams repeating an earlier one; word-list share: answer words in the 2K word list; ref. "
                "perplexity: of the answers under the reference model (a pretrained model of the grid, so it "
                "favours its own corpus's style). – = not measured."
            ],
        )
    )


def _free_cell(ctx: Context, row: dict, name: str, key: str, source: str) -> Cell:
    est = read_estimate({"mean": row.get(key), "ci95": row.get(f"{key}_ci95")}) if key in INTERVAL else None
    if est is None or est.low is None:
        return number_cell(row.get(key), ctx.digits, f"{source}: judge_free.{name}.{key}")
    return Cell(est.text(ctx.digits), f"{source}: judge_free.{name}.{key}, {key}_ci95")


def _diff_text(entry, digits: int) -> str | None:
    est = read_estimate({"mean": entry.get("diff"), "ci95": entry.get("ci95")}) if isinstance(entry, dict) else None
    if est is None:
        return None
    if est.excludes_zero is None:
        return est.signed(digits)
    return est.signed(digits) + (" (excludes 0)" if est.excludes_zero else " (includes 0)")


def _judge_free_headlines(ctx: Context, section: Section, diffs: dict, backend: str, source: str) -> bool:
    found = False
    for pair, row in sorted(diffs.items()):
        if not isinstance(row, dict):
            continue
        parts = [
            f"{dict(JUDGE_FREE)[key]} {text}"
            for key in INTERVAL
            if (text := _diff_text(row.get(key), ctx.digits)) is not None
        ]
        if not parts:
            continue
        found = True
        section.headlines.append(
            Headline(
                QUESTION,
                f"{pair}: leaner- minus ori-pretrained, judge-free (no judge ran, backend `{backend}`: these describe "
                f"the answers, they do not judge instruction following), {row.get('questions', '?')} questions",
                "; ".join(parts),
                f"{source}: judge_free_diff.{pair}.<metric>.diff, ci95",
            )
        )
    return found


def _headlines(ctx: Context, section: Section, inter: dict, backend: str, source: str, diffs=None) -> None:
    if not inter:
        if isinstance(diffs, dict) and _judge_free_headlines(ctx, section, diffs, backend, source):
            return
        section.headlines.append(
            Headline(
                QUESTION,
                "judged sum (0-15), leaner- vs ori-pretrained",
                f"not judged (judge backend `{backend}`): only judge-free metrics exist, no judged comparison",
                f"{source}: judge.backend",
            )
        )
        return
    groups: dict[tuple, dict[str, str]] = {}
    for name in sorted(inter):
        parsed = parse_entry(name)
        if parsed:
            arch, corpus, seed, variant = parsed
            groups.setdefault((arch, seed, variant), {}).setdefault(corpus, name)
    found = False
    for (arch, seed, variant), by_corpus in sorted(groups.items()):
        leaner, ori = by_corpus.get("leaner"), by_corpus.get("ori")
        lest, oest = _sum_estimate(inter.get(leaner)), _sum_estimate(inter.get(ori))
        if lest is None or oest is None:
            continue
        found = True
        if None in (lest.low, lest.high, oest.low, oest.high):
            reading = " — no interval, no conclusion"
        elif lest.low > oest.high or oest.low > lest.high:
            reading = " — intervals do not overlap"
        else:
            reading = " — intervals overlap: no clear difference"
        section.headlines.append(
            Headline(
                QUESTION,
                f"{arch} s{seed}, instruction variant `{variant}`: judged sum (0-15), leaner- vs ori-pretrained",
                f"leaner {lest.text(ctx.digits)} vs ori {oest.text(ctx.digits)}{reading}",
                f"{source}: inter.{{{leaner},{ori}}}.sum, sum_ci95",
            )
        )
    if not found:
        section.headlines.append(
            Headline(
                QUESTION,
                "judged sum (0-15), leaner- vs ori-pretrained",
                "no leaner/ori pair with the same instruction variant was judged",
                f"{source}: inter",
            )
        )


def _bar_style(names: list[str]) -> list[tuple[str, str]]:
    variants = sorted({_variant(n) for n in names})
    return [
        (corpus_colour(_corpus(n), i), HATCHES[variants.index(_variant(n)) % len(HATCHES)]) for i, n in enumerate(names)
    ]


def _inter_figure(ctx: Context, section: Section, inter: dict, source: str) -> None:
    names = sorted(n for n in inter if _sum_estimate(inter[n]) is not None)
    if not names:
        return
    ests = [_sum_estimate(inter[n]) for n in names]
    fig, (ax,) = grid(1, columns=1, width=max(5.0, 1.1 * len(names) + 2), height=3.4)
    err = [
        [0 if e.low is None else e.mean - e.low for e in ests],
        [0 if e.high is None else e.high - e.mean for e in ests],
    ]
    for i, ((colour, hatch), est) in enumerate(zip(_bar_style(names), ests, strict=True)):
        ax.bar(
            i, est.mean, 0.7, yerr=[[err[0][i]], [err[1][i]]], capsize=3, color=colour, hatch=hatch, edgecolor="white"
        )
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=7)
    ax.set_ylim(0, 15)
    ax.set_ylabel("judged sum (0-15)")
    ax.set_title("Leaner-Eval inter comparison: judged sum per model")
    section.figures.append(
        Figure(
            "leaner_eval",
            "Leaner-Eval judged sum per model (colour: pretraining corpus; hatching: instruction variant; "
            "error bars: 95% bootstrap interval over questions).",
            to_png(fig, ctx.dpi),
            [f"{source}: inter.<model>.sum, sum_ci95"],
        )
    )


def _judge_free_figure(ctx: Context, section: Section, free: dict, source: str) -> None:
    names = sorted(free)
    fig, axes = grid(len(PLOTTED), columns=len(PLOTTED), width=2.6, height=3.0)
    for ax, key in zip(axes, PLOTTED, strict=True):
        values = [free[n].get(key) if is_number(free[n].get(key)) else float("nan") for n in names]
        for i, ((colour, hatch), value) in enumerate(zip(_bar_style(names), values, strict=True)):
            ax.bar(i, value, 0.7, color=colour, hatch=hatch, edgecolor="white")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=6)
        ax.set_title(dict(JUDGE_FREE)[key])
    section.figures.append(
        Figure(
            "leaner_eval",
            "Leaner-Eval judge-free metrics per model (no judge ran; colour: pretraining corpus; hatching: "
            "instruction variant).",
            to_png(fig, ctx.dpi),
            [f"{source}: judge_free.<model>.{{{','.join(PLOTTED)}}}"],
        )
    )
