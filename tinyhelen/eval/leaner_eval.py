"""The Leaner-Eval tables: judged scores with bootstrap intervals, the inner/inter comparison, judge-free metrics.

    result = leaner_eval(answers, questions, cfg, llm, client=CachedLLM(...), reference=(model, tokenizer),
                         word_list=words, answer_source=make_more_answers)

Inner comparison (spec §6.4): per recipe (tuned model), its exported checkpoints and the final model answer the
`inner_comparison` questions and are judged together (chunks of `group_size`); the entry with the best mean sum
(grammar + coherence + specificity, 0-15) is selected, ties going to the earlier step (the final model counts as
the last). Inter comparison: the selected entries of all recipes are judged together on every question the
final models answered (an entry without answers to some of them gets them from `answer_source`). The
paper's `recipes.csv` columns: mean grammar, coherence, specificity, sum over all questions, and the mean sum per
similarity split; here each comes with a bootstrap 95% interval over questions (percentile method,
`bootstrap_samples` resamples from `bootstrap_seed`). Nulls (unreadable judgements) are left out of the means and
counted. Scores are from the forward pass; the reversed pass only measures position bias.

Judge-free metrics, for every entry and always (also with `judge.backend: none`): mean answer length in words,
empty-answer rate, distinct-1/2 (distinct n-grams over all n-grams, pooled over the model's answers),
repetition rate (per answer, the share of its word trigrams that repeat an earlier trigram of the same answer,
averaged over answers with a trigram), the share of answer words in the 2K word list, and the perplexity of the
answers under a fixed reference model of the grid. Four of them are pooled statistics over questions and get a
95% percentile bootstrap interval over questions (`<metric>_ci95`, recomputed on each resample):
`INTERVAL_METRICS`. For each leaner-/ori-pretrained pair of tuned models with the same arch and instruction
variant (`pairs`), `judge_free_diff` gives leaner minus ori of each with a paired bootstrap interval (the same
resampled questions for both). They describe the answers (length, vocabulary, fluency under the reference model,
itself trained on one of the corpora); whether the answers follow the instructions takes the judge.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.io import atomic_open
from tinyhelen.eval.config import JudgeConfig
from tinyhelen.eval.generate import SPLIT_SETS, mean_token_losses
from tinyhelen.eval.judge import (
    AXES,
    Entry,
    JudgeOutcome,
    build_groups,
    judge_groups,
    load_judge_templates,
    position_bias,
)
from tinyhelen.simplify.config import LLMConfig
from tinyhelen.tokens.vocab import words

log = logging.getLogger(__name__)

SCORES = (*AXES, "sum")
SPLIT_LABELS = {name: name.removeprefix("split-") for name in SPLIT_SETS}
DIGITS = 4


@dataclass
class LeanerEvalResult:
    """Everything the judge stage writes."""

    metrics: dict[str, Any]
    """Headline numbers (metrics/leaner_eval.json)."""
    summary: dict[str, Any]
    """Every number of the tables, intervals and accounting included."""
    table: str
    outcome: JudgeOutcome = field(default_factory=JudgeOutcome)


def bootstrap_interval(values: Sequence[float], samples: int, seed: int, level: float = 0.95) -> list[float] | None:
    """Percentile bootstrap interval of the mean of `values` (resampling them with replacement)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(samples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return [round(float(low), DIGITS), round(float(high), DIGITS)]


def _stat(values: Sequence[float], cfg: JudgeConfig) -> dict[str, Any]:
    return {
        "mean": round(float(np.mean(values)), DIGITS) if len(values) else None,
        "ci95": bootstrap_interval(values, cfg.bootstrap_samples, cfg.bootstrap_seed),
        "questions": len(values),
    }


def per_question_scores(scores: Sequence[dict[str, Any]], comparison: str) -> dict[str, dict[str, dict[str, Any]]]:
    """model -> question id -> its forward-pass record (nulls included), for one comparison."""
    table: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in scores:
        if record["comparison"] == comparison and record["pass"] == "forward":
            table[record["model"]][record["question_id"]] = record
    return table


def summarise_model(records: dict[str, dict[str, Any]], cfg: JudgeConfig) -> dict[str, Any]:
    """Means and intervals of each axis and the sum, overall and per split, over one model's questions."""
    scored = [r for _, r in sorted(records.items()) if r["null"] is None]
    summary: dict[str, Any] = {name: _stat([_value(r, name) for r in scored], cfg) for name in SCORES}
    summary["nulls"] = len(records) - len(scored)
    summary["splits"] = {}
    for split, label in SPLIT_LABELS.items():
        in_split = [r for r in scored if r["split"] == split]
        if in_split:
            summary["splits"][label] = {name: _stat([_value(r, name) for r in in_split], cfg) for name in SCORES}
    return summary


def _value(record: dict[str, Any], name: str) -> int:
    return sum(record[axis] for axis in AXES) if name == "sum" else record[name]


def select_checkpoints(inner: dict[str, dict[str, Any]], entries: Sequence[Entry]) -> dict[str, Entry]:
    """Per recipe, the entry with the best mean sum on the inner comparison; ties: the earlier step (final last).
    An entry without any scored answer is never selected unless it is the recipe's only one."""
    best: dict[str, Entry] = {}
    for entry in entries:
        current = best.get(entry.recipe)
        if current is None or _rank(inner, entry) > _rank(inner, current):
            best[entry.recipe] = entry
    return best


def _rank(inner: dict[str, dict[str, Any]], entry: Entry) -> tuple[float, float]:
    mean = inner.get(entry.name, {}).get("sum", {}).get("mean")
    step = float("inf") if entry.step is None else entry.step
    if mean is None:  # unscored: below every scored entry; the final model before its checkpoints
        return (-1.0, 0.0 if entry.step is None else -step)
    return (mean, -step)


def _ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


#: Judge-free metrics with a bootstrap interval over questions and a leaner - ori paired difference.
INTERVAL_METRICS = ("answer_words", "empty_rate", "word_list_share", "reference_perplexity")
PPL = "reference_perplexity"


def judge_free_metrics(
    answers: Sequence[str],
    word_list: frozenset[str],
    losses: Sequence[tuple[float, int]] | None,
    columns: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The judge-free metrics of one model's answers (see the module docstring); `columns`: their
    `answer_columns`, when the caller has them already."""
    tokenised = [words(text) for text in answers]
    columns = columns if columns is not None else answer_columns(answers, word_list, losses)
    pooled = {
        name: None if not np.isfinite(value) else round(float(value), 2 if name == PPL else DIGITS)
        for name, value in pooled_metrics(columns, np.arange(len(answers))).items()
    }
    result: dict[str, Any] = {
        "answers": len(answers),
        "answer_words": pooled["answer_words"],
        "empty_rate": pooled["empty_rate"],
    }
    for n in (1, 2):
        grams = [gram for tokens in tokenised for gram in _ngrams(tokens, n)]
        result[f"distinct_{n}"] = round(len(set(grams)) / len(grams), DIGITS) if grams else None
    repeats = []
    for tokens in tokenised:
        trigrams = _ngrams(tokens, 3)
        if trigrams:
            repeats.append(1 - len(set(trigrams)) / len(trigrams))
    result["repetition_rate"] = round(float(np.mean(repeats)), DIGITS) if repeats else None
    result["word_list_share"] = pooled["word_list_share"]
    result[PPL] = pooled.get(PPL)
    return result


def answer_columns(
    answers: Sequence[str], word_list: frozenset[str], losses: Sequence[tuple[float, int]] | None
) -> dict[str, np.ndarray]:
    """Per answer: words, words in the word list, empty (0/1) and, with `losses`, the reference loss and tokens."""
    tokenised = [words(text) for text in answers]
    columns = {
        "words": np.array([len(t) for t in tokenised], dtype=float),
        "listed": np.array([sum(w in word_list for w in t) for t in tokenised], dtype=float),
        "empty": np.array([not text.strip() for text in answers], dtype=float),
    }
    if losses is not None:
        columns["loss"] = np.array([loss for loss, _ in losses], dtype=float)
        columns["tokens"] = np.array([n for _, n in losses], dtype=float)
    return columns


def pooled_metrics(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """`INTERVAL_METRICS` over the answers `index` selects (shape [..., n]: one value per leading row; NaN where a
    ratio has no denominator): words per answer, empty rate, word-list share and the reference perplexity
    exp(total loss / total tokens), the last only with reference losses."""

    def total(key: str) -> np.ndarray:
        return columns[key][index].sum(axis=-1)

    with np.errstate(invalid="ignore", divide="ignore"):
        result = {
            "answer_words": total("words") / index.shape[-1],
            "empty_rate": total("empty") / index.shape[-1],
            "word_list_share": total("listed") / total("words"),
        }
        if "loss" in columns:
            result[PPL] = np.exp(total("loss") / total("tokens"))
    return result


def _percentiles(draws: np.ndarray) -> list[float] | None:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return None
    low, high = np.percentile(draws, [2.5, 97.5])
    return [round(float(low), DIGITS), round(float(high), DIGITS)]


def judge_free_intervals(columns: dict[str, np.ndarray], cfg: JudgeConfig) -> dict[str, list[float] | None]:
    """`<metric>_ci95` of `INTERVAL_METRICS`: percentile bootstrap over questions (resampled with replacement)."""
    n = len(columns["words"])
    if n == 0:
        return {f"{name}_ci95": None for name in INTERVAL_METRICS}
    rng = np.random.default_rng(cfg.bootstrap_seed)
    draws = pooled_metrics(columns, rng.integers(0, n, size=(cfg.bootstrap_samples, n)))
    return {f"{name}_ci95": _percentiles(draws[name]) if name in draws else None for name in INTERVAL_METRICS}


def judge_free_difference(
    leaner: dict[str, np.ndarray], ori: dict[str, np.ndarray], cfg: JudgeConfig
) -> dict[str, dict[str, Any]]:
    """Leaner minus ori of each `INTERVAL_METRICS` over the same questions (rows aligned), with a paired
    bootstrap interval: both models' answers to the same resampled questions."""
    n = len(leaner["words"])
    result: dict[str, dict[str, Any]] = {name: {"diff": None, "ci95": None} for name in INTERVAL_METRICS}
    if n == 0:
        return result
    everything = np.arange(n)
    point_l, point_o = pooled_metrics(leaner, everything), pooled_metrics(ori, everything)
    index = np.random.default_rng(cfg.bootstrap_seed).integers(0, n, size=(cfg.bootstrap_samples, n))
    draws_l, draws_o = pooled_metrics(leaner, index), pooled_metrics(ori, index)
    for name in INTERVAL_METRICS:
        if name not in point_l or name not in point_o:
            continue
        diff = float(point_l[name] - point_o[name])
        result[name] = {
            "diff": round(diff, DIGITS) if np.isfinite(diff) else None,
            "ci95": _percentiles(draws_l[name] - draws_o[name]),
        }
    return result


def leaner_eval(
    answers: dict[Entry, list[dict[str, Any]]],
    cfg: JudgeConfig,
    llm: LLMConfig,
    *,
    word_list: frozenset[str],
    reference: tuple[Any, Any] | None = None,
    client: Any = None,
    answer_source: Callable[[Entry, Sequence[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    pairs: Sequence[tuple[str, str, str]] = (),
) -> LeanerEvalResult:
    """Judge-free metrics for every entry and, with a client, the judged inner and inter comparisons.

    Args:
        answers: entry -> its answer records (`tinyhelen.eval.generate` schema). Finals answered the
            `generate.sets` questions, checkpoints the `checkpoint_sets` ones.
        cfg: the judge section.
        llm: the `llm` section (prices for the cost estimate; the client carries the judge settings).
        word_list: the vocab stage's word list.
        reference: (model, tokenizer) of the reference model for the answer perplexity; None leaves it out.
        client: a `CachedLLM` with the judge settings (`judge_settings`); None = no judge (backend `none`).
        answer_source: makes the missing answer records of an inter-comparison entry (a selected checkpoint).
        pairs: (label, leaner-pretrained name, ori-pretrained name) of final models to compare judge-free.
    """
    entries = sorted(answers, key=lambda e: (e.recipe, float("inf") if e.step is None else e.step))
    judge_free = {}
    columns: dict[str, dict[str, np.ndarray]] = {}
    ids: dict[str, list[str]] = {}
    for entry in entries:
        texts = [r["answer"] for r in answers[entry]]
        losses = mean_token_losses(*reference, texts, cfg.reference_batch_size) if reference else None
        columns[entry.name] = answer_columns(texts, word_list, losses)
        ids[entry.name] = [r["id"] for r in answers[entry]]
        judge_free[entry.name] = {
            **judge_free_metrics(texts, word_list, losses, columns[entry.name]),
            **judge_free_intervals(columns[entry.name], cfg),
        }
    differences = {}
    for label, leaner_name, ori_name in pairs:
        if leaner_name not in columns or ori_name not in columns:
            continue
        common = sorted(set(ids[leaner_name]) & set(ids[ori_name]))
        aligned = []
        for name in (leaner_name, ori_name):
            row = {qid: i for i, qid in enumerate(ids[name])}
            order = np.array([row[qid] for qid in common], dtype=int)
            aligned.append({key: values[order] for key, values in columns[name].items()})
        differences[label] = {
            "leaner": leaner_name,
            "ori": ori_name,
            "questions": len(common),
            **judge_free_difference(*aligned, cfg),
        }
    summary: dict[str, Any] = {
        "judge": {"backend": cfg.backend if client is not None else "none"},
        "judge_free": judge_free,
        "judge_free_diff": differences,
        "inner": {},
        "selected": {},
        "inter": {},
    }
    outcome = JudgeOutcome()
    if client is not None:
        templates = load_judge_templates(cfg.prompts_dir)
        summary["judge"]["model"] = client.settings.model
        by_id = {entry.name: {r["id"]: r["answer"] for r in answers[entry]} for entry in entries}
        recipes = sorted({e.recipe for e in entries})
        finals = [e for e in entries if e.step is None]
        inner_questions = _questions([r for e in finals for r in answers[e] if "inner_comparison" in r["sets"]])
        inner_groups = []
        for recipe in recipes:
            candidates = [
                e for e in entries if e.recipe == recipe and all(q["id"] in by_id[e.name] for q in inner_questions)
            ]
            inner_groups += build_groups("inner", [_Q(q) for q in inner_questions], candidates, by_id, cfg.group_size)
        inner_outcome = judge_groups(inner_groups, client, cfg, templates) if inner_groups else JudgeOutcome()
        outcome.add(inner_outcome)
        inner = {
            model: summarise_model(rows, cfg)
            for model, rows in per_question_scores(inner_outcome.scores, "inner").items()
        }
        summary["inner"] = inner
        selected = select_checkpoints(inner, entries)
        summary["selected"] = {recipe: entry.name for recipe, entry in sorted(selected.items())}
        all_questions = _questions([r for e in finals for r in answers[e]])
        for entry in selected.values():
            missing = [q for q in all_questions if q["id"] not in by_id[entry.name]]
            if missing:
                if answer_source is None:
                    raise ValueError(f"{entry.name} has no answers to {len(missing)} questions and no answer_source")
                extra = answer_source(entry, missing)
                answers[entry] = answers[entry] + extra
                by_id[entry.name].update({r["id"]: r["answer"] for r in extra})
        chosen = [selected[recipe] for recipe in recipes]
        inter_outcome = judge_groups(
            build_groups("inter", [_Q(q) for q in all_questions], chosen, by_id, cfg.group_size), client, cfg, templates
        )
        outcome.add(inter_outcome)
        summary["inter"] = {
            model: summarise_model(rows, cfg)
            for model, rows in sorted(per_question_scores(inter_outcome.scores, "inter").items())
        }
        cost = (outcome.input_tokens * llm.price_input_per_1m + outcome.output_tokens * llm.price_output_per_1m) / 1e6
        summary["judge"].update(
            judged_calls=len(outcome.calls),
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            cost_estimate=round(cost, 6),
            nulls=outcome.nulls,
            failures=dict(sorted(outcome.failures.items())),
            system_fingerprints=dict(sorted(outcome.fingerprints.items())),
            position_bias=position_bias(outcome.scores),
            group_size=cfg.group_size,
            shuffle_seed=cfg.shuffle_seed,
        )
    return LeanerEvalResult(
        metrics=headline(summary, [e.name for e in entries if e.step is None]),
        summary=summary,
        table=format_table(summary),
        outcome=outcome,
    )


class _Q:
    """A question record seen through the attributes `build_groups` reads."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.id, self.question, self.split = record["id"], record["question"], record["split"]


def _questions(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Distinct questions of answer records, in first-seen order."""
    seen: dict[str, dict[str, Any]] = {}
    for record in records:
        seen.setdefault(record["id"], record)
    return list(seen.values())


def headline(summary: dict[str, Any], finals: Sequence[str]) -> dict[str, Any]:
    """The metrics file: judge accounting, selections, inter-comparison means and the finals' judge-free numbers."""
    judge = summary["judge"]
    metrics: dict[str, Any] = {
        "judge": {
            key: judge[key]
            for key in ("backend", "model", "nulls", "input_tokens", "output_tokens", "cost_estimate")
            if key in judge
        }
    }
    if judge.get("position_bias"):
        metrics["judge"]["position_bias_sum"] = judge["position_bias"]["sum"]
    if summary["selected"]:
        metrics["selected"] = summary["selected"]
    metrics["inter"] = {
        model: {
            **{name: row[name]["mean"] for name in SCORES},
            "sum_ci95": row["sum"]["ci95"],
            **{split: values["sum"]["mean"] for split, values in row["splits"].items()},
            **{f"{split}_ci95": values["sum"]["ci95"] for split, values in row["splits"].items()},
        }
        for model, row in summary["inter"].items()
    }
    metrics["judge_free"] = {name: summary["judge_free"][name] for name in finals}
    if summary.get("judge_free_diff"):
        metrics["judge_free_diff"] = summary["judge_free_diff"]
    return metrics


def _cell(stat: dict[str, Any] | None, ci: bool = True) -> str:
    if not stat or stat["mean"] is None:
        return "-"
    text = f"{stat['mean']:.2f}"
    return f"{text} [{stat['ci95'][0]:.2f}, {stat['ci95'][1]:.2f}]" if ci and stat["ci95"] else text


def format_table(summary: dict[str, Any]) -> str:
    """The markdown report: inter comparison, inner comparison, judge-free metrics, judge accounting."""
    lines = ["# Leaner-Eval", ""]
    if summary["inter"]:
        splits = list(SPLIT_LABELS.values())
        lines += [
            "## Inter comparison (selected checkpoint per recipe; mean [95% bootstrap interval])",
            "",
            "| model | grammar | coherence | specificity | sum (0-15) | " + " | ".join(splits) + " | nulls |",
            "|---" * (6 + len(splits)) + "|",
        ]
        for model, row in summary["inter"].items():
            cells = [_cell(row[name]) for name in SCORES]
            cells += [_cell(row["splits"].get(split, {}).get("sum"), ci=False) for split in splits]
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {row['nulls']} |")
        lines += [
            "",
            "## Inner comparison (mean sum on inner_comparison; * = selected)",
            "",
            "| entry | sum (0-15) | questions | nulls |",
            "|---|---|---|---|",
        ]
        chosen = set(summary["selected"].values())
        for model, row in sorted(summary["inner"].items()):
            mark = " *" if model in chosen else ""
            lines.append(f"| {model}{mark} | {_cell(row['sum'])} | {row['sum']['questions']} | {row['nulls']} |")
        judge = summary["judge"]
        bias = judge.get("position_bias")
        lines += [
            "",
            "## Judge",
            "",
            (
                f"- model {judge.get('model')}, {judge['judged_calls']} judged groups, "
                f"{judge['input_tokens']} input + {judge['output_tokens']} output tokens, "
                f"cost estimate {judge['cost_estimate']:.4f}"
            ),
            f"- nulls {judge['nulls']}, unreadable replies or failures {judge['failures'] or 'none'}",
            f"- system fingerprints {judge['system_fingerprints'] or 'none sent'}",
            f"- position bias (mean |change| forward vs reversed): {bias if bias else 'not measured'}",
        ]
    else:
        lines += ["No judge (`judge.backend: none`): judge-free metrics only."]
    lines += [
        "",
        "## Judge-free metrics",
        "",
        "| entry | answers | words | empty | distinct-1 | distinct-2 | repetition | word-list share | ref. ppl |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = (
        "answers",
        "answer_words",
        "empty_rate",
        "distinct_1",
        "distinct_2",
        "repetition_rate",
        "word_list_share",
        "reference_perplexity",
    )
    for model, row in summary["judge_free"].items():
        cells = []
        for key in keys:
            ci = row.get(f"{key}_ci95")
            cell = "-" if row[key] is None else f"{row[key]:g}"
            cells.append(f"{cell} [{ci[0]:g}, {ci[1]:g}]" if ci and row[key] is not None else cell)
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    if summary.get("judge_free_diff"):
        lines += [
            "",
            "## Leaner- minus ori-pretrained (same arch and instruction variant; paired bootstrap 95% interval)",
            "",
            "| pair | questions | " + " | ".join(INTERVAL_METRICS) + " |",
            "|---|---" + "|---" * len(INTERVAL_METRICS) + "|",
        ]
        for label, row in summary["judge_free_diff"].items():
            cells = []
            for name in INTERVAL_METRICS:
                diff, ci = row[name]["diff"], row[name]["ci95"]
                cells.append("-" if diff is None else f"{diff:+g}" + (f" [{ci[0]:+g}, {ci[1]:+g}]" if ci else ""))
            lines.append(
                f"| {label} ({row['leaner']} - {row['ori']}) | {row['questions']} | " + " | ".join(cells) + " |"
            )
    lines.append("")
    lines.append(
        "Judge-free intervals: percentile bootstrap over questions. These metrics describe the answers; whether "
        "they follow the instructions takes the judge."
    )
    return "\n".join(lines) + "\n"


def plot_leaner_eval(summary: dict[str, Any], path: str | Path) -> None:
    """Bars of the inter comparison's mean sum with 95% intervals (judged), else the judge-free metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if summary["inter"]:
        models = list(summary["inter"])
        means = [summary["inter"][m]["sum"]["mean"] or 0.0 for m in models]
        cis = [summary["inter"][m]["sum"]["ci95"] or [mean, mean] for m, mean in zip(models, means, strict=True)]
        errors = np.array(
            [
                [mean - ci[0] for mean, ci in zip(means, cis, strict=True)],
                [ci[1] - mean for mean, ci in zip(means, cis, strict=True)],
            ]
        )
        fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(models)), 4))
        ax.bar(range(len(models)), means, yerr=errors, capsize=4)
        ax.set_xticks(range(len(models)), models, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 15)
        ax.set_ylabel("mean judge sum (0-15), 95% CI")
        ax.set_title("Leaner-Eval inter comparison")
    else:
        models = list(summary["judge_free"])
        shown = ("word_list_share", "distinct_2", "repetition_rate", "empty_rate")
        fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3.5))
        for ax, key in zip(axes, shown, strict=True):
            ax.bar(range(len(models)), [summary["judge_free"][m][key] or 0.0 for m in models])
            ax.set_xticks(range(len(models)), models, rotation=30, ha="right", fontsize=7)
            ax.set_title(key)
        fig.suptitle("Leaner-Eval judge-free metrics")
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)


def load_answer_files(generations_dir: str | Path, names: Sequence[str]) -> dict[Entry, list[dict[str, Any]]]:
    """The `generate` outputs of each tuned model: `<dir>/<name>.jsonl` and `<dir>/<name>/step-<N>.jsonl`.

    Raises:
        DataError: a model's answer file is missing.
    """
    from tinyhelen.core.errors import DataError
    from tinyhelen.core.io import iter_jsonl

    generations_dir = Path(generations_dir)
    answers: dict[Entry, list[dict[str, Any]]] = {}
    for name in names:
        final = generations_dir / f"{name}.jsonl"
        if not final.is_file():
            raise DataError(f"{final}: answers of {name} missing (run the generate stage)")
        answers[Entry(name)] = [record for _, record in iter_jsonl(final)]
        for path in sorted((generations_dir / name).glob("step-*.jsonl")):
            step = int(path.name.removeprefix("step-").removesuffix(".jsonl"))
            answers[Entry(name, step)] = [record for _, record in iter_jsonl(path)]
    return answers


def read_word_list(path: str | Path) -> frozenset[str]:
    """The vocab stage's word list (one word a line); `DataError` when it is missing or empty."""
    from tinyhelen.core.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: word list missing (judge.word_list; written by the vocab stage)")
    found = frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not found:
        raise DataError(f"{path}: the word list is empty")
    return found


def evaluate_leaner(
    names: Sequence[str],
    generations_dir: str | Path,
    models_dir: str | Path,
    reference_dir: str | Path,
    judge_cfg: JudgeConfig,
    generate_cfg: Any,
    llm: LLMConfig,
    client: Any = None,
    pairs: Sequence[tuple[str, str, str]] = (),
) -> tuple[LeanerEvalResult, dict[Entry, list[dict[str, Any]]]]:
    """The judge stage's work: read the answers, make the judge client (backend `llm`), score, tabulate.

    A selected checkpoint without answers to some inter-comparison questions answers them here, from
    `<models_dir>/<name>/step-<N>/` with the `generate` settings; those records are returned as the second
    value (entry -> its new records) so the stage can keep them beside the tables.

    Args:
        names: the tuned models (recipes).
        generations_dir: the generate stage's output folder.
        models_dir: where the tuned models live (`models/instruct`).
        reference_dir: the reference model for the judge-free perplexity.
        judge_cfg, generate_cfg, llm: the params sections.
        client: a ready judge client (tests); None makes a `CachedLLM` when the backend is `llm`.
        pairs: (label, leaner name, ori name) for the judge-free leaner - ori differences.
    """
    from tinyhelen.eval.generate import (
        Question,
        answer_questions,
        load_causal_model,
        load_template,
        resolve_device,
    )
    from tinyhelen.eval.judge import judge_settings

    answers = load_answer_files(generations_dir, names)
    word_list = read_word_list(judge_cfg.word_list)
    device = resolve_device(generate_cfg.device)
    reference = load_causal_model(reference_dir, device)
    if judge_cfg.backend == "llm" and client is None:
        from tinyhelen.simplify.llm import CachedLLM

        client = CachedLLM(judge_settings(llm, judge_cfg))
    if judge_cfg.backend == "none":
        client = None
    made: dict[Entry, list[dict[str, Any]]] = {}

    def answer_source(entry: Entry, missing: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        model, tokenizer = load_causal_model(Path(models_dir) / entry.recipe / f"step-{entry.step}", device)
        questions = [Question(q["id"], q["question"], q["split"], tuple(q["sets"])) for q in missing]
        made[entry] = answer_questions(model, tokenizer, questions, load_template(generate_cfg.template), generate_cfg)
        return made[entry]

    result = leaner_eval(
        answers,
        judge_cfg,
        llm,
        word_list=word_list,
        reference=reference,
        client=client,
        answer_source=answer_source,
        pairs=pairs,
    )
    return result, made
