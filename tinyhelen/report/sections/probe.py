"""Section `probe`: zero-shot grammar probes (Zorro minimal pairs) per phenomenon, leaner vs ori.

Written before the probe stage merged, so it reads defensively. Expected schema, one file per pretrained model:
`probe/<model>.json` with `<model>` = `<arch>-<corpus>[-s<seed>]`:

    {"model": "llama-leaner-s65",                 # optional; the file name is used when absent
     "phenomena": {"<phenomenon>": {"accuracy": 0.71, "pairs": 2000} | 0.71, ...},
     "accuracy": 0.68}                            # overall; also read from "overall" ({accuracy} or number)

Accuracy is the share of pairs where the model scores the grammatical sentence higher (0..1). Seeds of one
(arch, corpus) are pooled (mean ± std, Student-t interval); leaner − ori is paired by seed. Files that do not
fit are listed in a note and skipped; no file at all omits the section. `probe/summary.json` or
`probe_summary.json`, if present, is listed as an input but the numbers come from the per-model files.
"""

from __future__ import annotations

from collections import defaultdict

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import corpus_colour, grid, to_png
from tinyhelen.report.names import arch_label, corpus_label, order_key, parse_model_name
from tinyhelen.report.page import Cell, Context, Figure, Headline, Section, Table, is_number, label
from tinyhelen.report.stats import Estimate, summarise, verdict

OVERALL = "overall"


def _accuracy(value) -> float | None:
    if isinstance(value, dict):
        value = value.get("accuracy", value.get("mean"))
    return float(value) if is_number(value) else None


def read_probe_file(data: dict) -> dict[str, float] | None:
    """Phenomenon -> accuracy (plus `overall`), or None when the file does not fit the expected schema."""
    phenomena = data.get("phenomena")
    if not isinstance(phenomena, dict):
        return None
    scores = {name: _accuracy(value) for name, value in phenomena.items()}
    scores = {k: v for k, v in scores.items() if v is not None}
    overall = _accuracy(data.get("accuracy", data.get(OVERALL)))
    if overall is None and scores:
        overall = sum(scores.values()) / len(scores)
    if overall is not None:
        scores[OVERALL] = overall
    return scores or None


def probe_section(ctx: Context) -> Section | None:
    folder = ctx.path("probe")
    files = (
        sorted(p for p in folder.glob("*.json") if p.stem != "summary" and ctx.keeps(p.stem)) if folder.is_dir() else []
    )
    if not files:
        return None
    section = Section(
        "probe",
        "Grammar probes: minimal pairs, zero-shot",
        "Share of minimal pairs where the model prefers the grammatical sentence (chance = 0.5), per "
        "phenomenon; no fine-tuning.",
    )
    for extra in ("probe/summary.json", "probe_summary.json"):
        if ctx.path(extra).is_file():
            section.inputs.append(ctx.name(extra))
    groups: dict[tuple[str, str], dict] = defaultdict(dict)
    rejected = []
    for path in files:
        data = read_json(path)
        name = parse_model_name(str(data.get("model", path.stem))) if isinstance(data, dict) else None
        scores = read_probe_file(data) if isinstance(data, dict) else None
        if name is None or scores is None:
            rejected.append(path.name)
            continue
        section.inputs.append(ctx.name(f"probe/{path.name}"))
        groups[(name.arch, name.corpus)][name.seed] = (path.stem, scores)
    if rejected:
        section.notes.append(f"Skipped (not in the expected schema): {', '.join(rejected)}.")
    if not groups:
        return section
    ordered = sorted(groups, key=lambda g: order_key(*g))
    phenomena = sorted({p for g in groups.values() for _, s in g.values() for p in s if p != OVERALL}) + [OVERALL]
    archs = list(dict.fromkeys(a for a, _ in ordered))
    paired_archs = [a for a in archs if (a, "leaner") in groups and (a, "ori") in groups]
    level = f"{round(100 * ctx.interval)}%"
    header = [
        "phenomenon",
        *[f"{arch_label(a)} ({corpus_label(c)})" for a, c in ordered],
        *[f"{arch_label(a)}: leaner − ori [{level}]" for a in paired_archs],
    ]
    rows = []
    for phenomenon in phenomena:
        cells = [label(phenomenon)]
        for group in ordered:
            est = summarise([s.get(phenomenon) for _, s in groups[group].values()], ctx.interval)
            stems = [stem for stem, _ in groups[group].values()]
            cells.append(
                Cell("–")
                if est is None
                else Cell(
                    est.text(ctx.digits, interval=False),
                    f"{ctx.name('probe/' + stems[0] + '.json')}"
                    f"{' (+ seeds)' if len(stems) > 1 else ''}: "
                    f"phenomena.{phenomenon}",
                )
            )
        for arch in paired_archs:
            est, how = _difference(groups, arch, phenomenon, ctx.interval)
            cells.append(
                Cell("–")
                if est is None
                else Cell(
                    est.signed(ctx.digits),
                    f"{ctx.name('probe/')}{arch}-leaner*.json − {arch}-ori*.json: {phenomenon} ({how})",
                )
            )
            if phenomenon == OVERALL and est is not None:
                section.headlines.append(
                    Headline(
                        "1. Does leaner pretraining help? (grammar probes)",
                        f"{arch_label(arch)}: minimal-pair accuracy, leaner − ori",
                        est.signed(ctx.digits) + verdict(est),
                        f"{ctx.name('probe/<model>.json')} ({how})",
                    )
                )
        rows.append(cells)
    section.tables.append(
        Table(
            "Minimal-pair accuracy per phenomenon",
            header,
            rows,
            [ctx.name("probe/<model>.json") + ": phenomena.<phenomenon>.accuracy, accuracy"],
            ["Cells: mean ± std over pretraining seeds (one seed: its value)."],
        )
    )
    _figure(ctx, section, groups, archs, phenomena)
    return section


def _difference(groups, arch: str, phenomenon: str, level: float) -> tuple[Estimate | None, str]:
    leaner, ori = groups[(arch, "leaner")], groups[(arch, "ori")]
    common = sorted(s for s in set(leaner) & set(ori) if s is not None)
    if common:
        values = [
            leaner[s][1].get(phenomenon) - ori[s][1].get(phenomenon)
            for s in common
            if is_number(leaner[s][1].get(phenomenon)) and is_number(ori[s][1].get(phenomenon))
        ]
        return summarise(values, level), f"paired over {len(common)} seeds"
    a = summarise([s.get(phenomenon) for _, s in leaner.values()], level)
    b = summarise([s.get(phenomenon) for _, s in ori.values()], level)
    if a is None or b is None:
        return None, ""
    return Estimate(a.mean - b.mean, None, None, None, 1), "difference of means, no interval"


def _figure(ctx: Context, section: Section, groups, archs: list[str], phenomena: list[str]) -> None:
    import numpy as np

    fig, axes = grid(len(archs), columns=2, width=5.0, height=0.28 * len(phenomena) + 1.6)
    for ax, arch in zip(axes, archs, strict=False):
        corpora = [c for a, c in sorted(groups, key=lambda g: order_key(*g)) if a == arch]
        height = 0.8 / max(len(corpora), 1)
        y = np.arange(len(phenomena))
        for i, corpus in enumerate(corpora):
            ests = [summarise([s.get(p) for _, s in groups[(arch, corpus)].values()], ctx.interval) for p in phenomena]
            ax.barh(
                y + (i - (len(corpora) - 1) / 2) * height,
                [np.nan if e is None else e.mean for e in ests],
                height,
                color=corpus_colour(corpus, i),
                label=corpus_label(corpus),
            )
        ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--", label="chance")
        ax.set_yticks(y, phenomena)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("minimal-pair accuracy (share of pairs)")
        ax.set_title(f"{arch_label(arch)}: grammar probes by phenomenon")
        ax.legend(loc="lower right")
    section.figures.append(
        Figure(
            "probe_phenomena",
            "Minimal-pair accuracy per phenomenon, leaner vs ori (mean over seeds; dashed: chance).",
            to_png(fig, ctx.dpi),
            [ctx.name("probe/<model>.json") + ": phenomena.<phenomenon>"],
        )
    )
