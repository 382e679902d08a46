"""Zero-shot grammar probes: score both sentences of every minimal pair, report accuracy with bootstrap CIs.

    pairs = load_pairs(cfg.source, cfg.format, paradigms=cfg.paradigms, max_pairs=cfg.max_pairs)
    result = probe_model("llama-leaner-s65", pairs, cfg, scorer=ModelScorer.load("models/llama-leaner-s65", cfg),
                         counts=word_counts(training_texts("data/composed/leaner/train.jsonl")), seed=65)
    summary, table = summarise({"llama-leaner-s65": "metrics/probe/llama-leaner-s65.json", ...})

A pair is correct (1) when the grammatical sentence scores higher, wrong (0) when lower, and a tie (0.5) when
the two scores are closer than `probe.tie_tolerance`; the tie rate is reported beside the accuracy, so a model
that gives both sentences one score shows up as 50% with a 100% tie rate, not as a good model. Accuracy is
reported per paradigm, per phenomenon and overall, each with a 95% percentile bootstrap interval over its pairs
(resampling pairs with replacement: the outcome counts are drawn from a multinomial, which is the same
distribution and costs nothing for 40,000 pairs). The vocabulary-filtered variant keeps only the pairs whose
words all occur at least `probe.min_word_count` times in the model's training text, with its pair counts.

Metrics (floats rounded to 4 decimals, no times): see `report`. Per-pair scores go to `scores.jsonl`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import read_json
from tinyhelen.eval.config import ProbeConfig
from tinyhelen.eval.minimal_pairs import MinimalPair
from tinyhelen.eval.scoring import NGramModel, in_vocabulary, score_texts, scorer_kind

log = logging.getLogger(__name__)

DIGITS = 4
NGRAM_ORDERS = {"unigram": 1, "bigram": 2}
#: What `metrics/probe_summary.json` (a DVC metrics file) keeps per row; the models x phenomena table is in
#: `results/probe_summary/summary.json`, and each model's paradigms in its `metrics/probe/<name>.json`.
SUMMARY_HEADLINE = (
    "pairs",
    "models.*.accuracy",
    "models.*.ci95",
    "models.*.tie_rate",
    "models.*.filtered_accuracy",
    "models.*.filtered_pairs",
)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def pair_outcomes(good: Sequence[float], bad: Sequence[float], tolerance: float) -> np.ndarray:
    """Per pair: 1.0 (grammatical scores higher), 0.0 (lower) or 0.5 (a tie: |difference| <= tolerance)."""
    diff = np.asarray(good, dtype=np.float64) - np.asarray(bad, dtype=np.float64)
    return np.where(np.abs(diff) <= tolerance, 0.5, np.where(diff > 0, 1.0, 0.0))


def accuracy_block(outcomes: np.ndarray, rng: np.random.Generator, resamples: int) -> dict[str, Any]:
    """Accuracy, its 95% bootstrap interval, the tie rate and the pair count of a set of pair outcomes."""
    n = len(outcomes)
    if n == 0:
        return {"accuracy": None, "ci95": None, "tie_rate": None, "pairs": 0}
    counts = np.array([(outcomes == 0.0).sum(), (outcomes == 0.5).sum(), (outcomes == 1.0).sum()])
    draws = rng.multinomial(n, counts / n, size=resamples) @ np.array([0.0, 0.5, 1.0]) / n
    low, high = np.percentile(draws, [2.5, 97.5])
    return {
        "accuracy": _round(outcomes.mean()),
        "ci95": [_round(low), _round(high)],
        "tie_rate": _round(counts[1] / n),
        "pairs": n,
    }


def _grouped(
    pairs: Sequence[MinimalPair],
    outcomes: np.ndarray,
    key: Callable[[MinimalPair], str],
    rng: np.random.Generator,
    resamples: int,
) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(key(pair), []).append(index)
    return {name: accuracy_block(outcomes[np.array(idx, dtype=int)], rng, resamples) for name, idx in groups.items()}


def report(
    pairs: Sequence[MinimalPair],
    outcomes: np.ndarray,
    keep: np.ndarray,
    *,
    resamples: int,
    seed: int,
    min_word_count: int,
) -> dict[str, Any]:
    """The metrics of one scored model.

    Returns:
        `{"overall": block, "phenomena": {name: block}, "paradigms": {name: block},
          "filtered": {"min_word_count": k, "overall": block, "phenomena": {...}, "paradigms": {...}}}`,
        a block being `{"accuracy", "ci95": [low, high], "tie_rate", "pairs"}` (accuracy None for 0 pairs).
    """
    rng = np.random.default_rng(seed)
    full = {
        "overall": accuracy_block(outcomes, rng, resamples),
        "phenomena": _grouped(pairs, outcomes, lambda p: p.phenomenon, rng, resamples),
        "paradigms": _grouped(pairs, outcomes, lambda p: p.paradigm, rng, resamples),
    }
    kept = [p for p, k in zip(pairs, keep, strict=False) if k]
    kept_outcomes = outcomes[keep]
    filtered = {
        "min_word_count": min_word_count,
        "overall": accuracy_block(kept_outcomes, rng, resamples),
        "phenomena": _grouped(kept, kept_outcomes, lambda p: p.phenomenon, rng, resamples),
        "paradigms": _grouped(kept, kept_outcomes, lambda p: p.paradigm, rng, resamples),
    }
    # phenomena / paradigms with no pair left keep a row with 0 pairs, so every model has the same keys
    for level in ("phenomena", "paradigms"):
        for name in full[level]:
            filtered[level].setdefault(name, accuracy_block(np.array([]), rng, resamples))
        filtered[level] = {name: filtered[level][name] for name in full[level]}
    return {**full, "filtered": filtered}


Scorer = Callable[[Sequence[str]], list[float]]


@dataclass
class ModelScorer:
    """A loaded model and tokenizer as a `texts -> scores` function."""

    model: Any
    tokenizer: Any
    batch_size: int
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = scorer_kind(self.model)

    def __call__(self, texts: Sequence[str]) -> list[float]:
        return score_texts(self.model, self.tokenizer, texts, batch_size=self.batch_size)

    @classmethod
    def load(cls, model_dir: str | Path, cfg: ProbeConfig, tokenizer_dir: str | Path | None = None) -> ModelScorer:
        """A saved HF model folder (tokenizer from `tokenizer_dir`, default the model folder itself)."""
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise DataError(f"{model_dir}: no config.json (not a saved model folder)")
        tokenizer_dir = Path(tokenizer_dir or model_dir)
        if not (tokenizer_dir / "tokenizer.json").is_file():
            raise DataError(f"{tokenizer_dir}: no tokenizer.json")
        config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
        auto = AutoModelForMaskedLM if config.model_type == "bert" else AutoModelForCausalLM
        model = auto.from_pretrained(model_dir, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
        return cls.wrap(model, tokenizer, cfg)

    @classmethod
    def wrap(cls, model, tokenizer, cfg: ProbeConfig) -> ModelScorer:
        """Put a model on the configured device in eval mode (dropout off)."""
        import torch

        if cfg.cpu_threads:
            torch.set_num_threads(cfg.cpu_threads)
        device = "cuda" if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()) else "cpu"
        model.to(device).eval()
        return cls(model, tokenizer, cfg.batch_size)


def random_scorer(arch: str, model_params, tokenizer_dir: str | Path, cfg: ProbeConfig, seed: int) -> ModelScorer:
    """The random-init baseline: the architecture of `params.model.<arch>` with the family's tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from tinyhelen.pretrain.models import arch_spec, build_model

    spec = arch_spec(arch)
    folder = Path(tokenizer_dir) / spec.family
    if not (folder / "tokenizer.json").is_file():
        raise DataError(f"{folder}: no tokenizer.json (run the tokenizer stage first)")
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    # the ids pretrain takes from the pack (the tokenizer's own): pad, and bos/eos where the family has them
    ids = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    torch.manual_seed(seed)
    model = build_model(arch, model_params, len(tokenizer), ids)
    return ModelScorer.wrap(model, tokenizer, cfg)


def ngram_scorer(ngram: str, texts: Iterable[str], add_k: float) -> Scorer:
    """The n-gram reference (`unigram` | `bigram`) as a `texts -> scores` function."""
    return NGramModel(NGRAM_ORDERS[ngram], add_k).fit(texts).score_texts


def training_texts(path: str | Path) -> list[str]:
    """The texts a model was trained on: a composed split file (`data/composed/<corpus>/train.jsonl`)."""
    from tinyhelen.core.documents import iter_documents, training_text

    return [training_text(record) for record in iter_documents(Path(path), required=True)]


@dataclass
class ProbeResult:
    metrics: dict[str, Any]
    records: list[dict[str, Any]]
    timing: dict[str, float] = field(default_factory=dict)


def score_pairs(scorer: Scorer, pairs: Sequence[MinimalPair]) -> tuple[np.ndarray, np.ndarray, float]:
    """Scores of the grammatical and ungrammatical sentences (one scorer call for all) and the seconds taken."""
    start = time.perf_counter()
    scores = np.asarray(scorer([p.good for p in pairs] + [p.bad for p in pairs]), dtype=np.float64)
    return scores[: len(pairs)], scores[len(pairs) :], time.perf_counter() - start


def probe_model(
    name: str,
    pairs: Sequence[MinimalPair],
    cfg: ProbeConfig,
    *,
    scorer: Scorer,
    counts,
    seed: int,
    kind: str,
    step_scorers: Mapping[int, Scorer] | None = None,
) -> ProbeResult:
    """Score one model (and its exported steps) on the pairs.

    Args:
        name: the model's name in reports.
        pairs: the minimal pairs.
        cfg: the `probe` section.
        scorer: texts -> scores (a `ModelScorer` or an n-gram model's `score_texts`).
        counts: word counts of the model's training text (for the vocabulary filter).
        seed: the bootstrap seed.
        kind: causal | mlm | plm | ngram (recorded in the metrics).
        step_scorers: step -> scorer of an exported checkpoint.
    """
    if not pairs:
        raise DataError(f"{cfg.source}: no minimal pairs to score")
    keep = in_vocabulary([p.good for p in pairs], counts, cfg.min_word_count) & in_vocabulary(
        [p.bad for p in pairs], counts, cfg.min_word_count
    )
    good, bad, seconds = score_pairs(scorer, pairs)
    outcomes = pair_outcomes(good, bad, cfg.tie_tolerance)
    metrics = {
        "model": name,
        "kind": kind,
        "source": cfg.source,
        **report(pairs, outcomes, keep, resamples=cfg.bootstrap, seed=seed, min_word_count=cfg.min_word_count),
    }
    timing = {"seconds": seconds, "sentences_per_s": 2 * len(pairs) / max(seconds, 1e-9)}
    log.info(
        "%s: accuracy %.4f (ties %.4f) on %d pairs; filtered %s on %d pairs; %.0f sentences/s",
        name,
        metrics["overall"]["accuracy"],
        metrics["overall"]["tie_rate"],
        len(pairs),
        metrics["filtered"]["overall"]["accuracy"],
        metrics["filtered"]["overall"]["pairs"],
        timing["sentences_per_s"],
    )
    if step_scorers:
        steps = {}
        for step, step_scorer in sorted(step_scorers.items()):
            s_good, s_bad, _ = score_pairs(step_scorer, pairs)
            s_out = pair_outcomes(s_good, s_bad, cfg.tie_tolerance)
            s_rep = report(pairs, s_out, keep, resamples=cfg.bootstrap, seed=seed, min_word_count=cfg.min_word_count)
            steps[str(step)] = {
                "overall": s_rep["overall"],
                "filtered": s_rep["filtered"]["overall"],
                "phenomena": {k: v["accuracy"] for k, v in s_rep["phenomena"].items()},
            }
            log.info("%s step %d: accuracy %.4f", name, step, s_rep["overall"]["accuracy"])
        metrics["steps"] = steps
    records = [
        {
            "paradigm": p.paradigm,
            "phenomenon": p.phenomenon,
            "origin": p.origin,
            "good": _round(g),
            "bad": _round(b),
            "outcome": float(o),
            "in_vocabulary": bool(k),
        }
        for p, g, b, o, k in zip(pairs, good, bad, outcomes, keep, strict=False)
    ]
    return ProbeResult(metrics, records, timing)


def headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numbers worth logging to MLflow: overall and filtered accuracy and tie rate, per phenomenon."""
    out = {
        "accuracy": metrics["overall"]["accuracy"],
        "tie_rate": metrics["overall"]["tie_rate"],
        "filtered_accuracy": metrics["filtered"]["overall"]["accuracy"],
        "filtered_pairs": metrics["filtered"]["overall"]["pairs"],
    }
    out.update({f"phenomenon.{k}": v["accuracy"] for k, v in metrics["phenomena"].items()})
    return {k: v for k, v in out.items() if v is not None}


# ---- the summary: models x phenomena ------------------------------------------------------------------------


def summarise(files: Mapping[str, str | Path]) -> tuple[dict[str, Any], str]:
    """Gather per-model probe metrics into the summary (models x phenomena) and a markdown table.

    Args:
        files: row name -> metrics/probe/<name>.json, in row order (grid models, random baselines, n-grams).

    Raises:
        DataError: a file is missing, or the files were scored on different pair sets.
    """
    rows: dict[str, Any] = {}
    phenomena: list[str] | None = None
    pairs: int | None = None
    for name, path in files.items():
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no probe metrics for {name} (run `dvc repro` for its probe stage)")
        metrics = read_json(path)
        names = list(metrics["phenomena"])
        if phenomena is None:
            phenomena, pairs = names, metrics["overall"]["pairs"]
        elif names != phenomena or metrics["overall"]["pairs"] != pairs:
            raise DataError(
                f"{path}: scored on other pairs ({metrics['overall']['pairs']} pairs, phenomena "
                f"{names}) than the first file ({pairs} pairs, {phenomena}); re-run the probes"
            )
        rows[name] = {
            "kind": metrics["kind"],
            "accuracy": metrics["overall"]["accuracy"],
            "ci95": metrics["overall"]["ci95"],
            "tie_rate": metrics["overall"]["tie_rate"],
            "filtered_accuracy": metrics["filtered"]["overall"]["accuracy"],
            "filtered_pairs": metrics["filtered"]["overall"]["pairs"],
            "phenomena": {k: v["accuracy"] for k, v in metrics["phenomena"].items()},
        }
    summary = {"pairs": pairs or 0, "phenomena": phenomena or [], "models": rows}
    return summary, format_table(summary)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def format_table(summary: Mapping[str, Any]) -> str:
    """Markdown: one row per model, overall accuracy with its interval, ties, filtered, then each phenomenon."""
    phenomena = summary["phenomena"]
    header = ["model", "accuracy % [95% CI]", "ties %", "filtered % (pairs)", *phenomena]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, row in summary["models"].items():
        low, high = row["ci95"]
        cells = [
            name,
            f"{_cell(row['accuracy'])} [{_cell(low)}, {_cell(high)}]",
            _cell(row["tie_rate"]),
            f"{_cell(row['filtered_accuracy'])} ({row['filtered_pairs']})",
            *(_cell(row["phenomena"].get(p)) for p in phenomena),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return (
        f"Minimal-pair accuracy (%), {summary['pairs']} pairs; ties count 0.5; chance is 50.\n\n"
        + "\n".join(lines)
        + "\n"
    )


def plot_summary(summary: Mapping[str, Any], path: str | Path) -> Path:
    """A heatmap PNG: models x (overall, phenomena), accuracy in %, 50 = chance."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinyhelen.core.io import atomic_open

    models = list(summary["models"])
    columns = ["overall", *summary["phenomena"]]
    values = np.array(
        [
            [
                np.nan if v is None else 100 * v
                for v in [row["accuracy"], *(row["phenomena"].get(p) for p in summary["phenomena"])]
            ]
            for row in summary["models"].values()
        ],
        dtype=float,
    ).reshape(len(models), len(columns))
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(columns), 1.5 + 0.4 * len(models)))
    image = ax.imshow(values, cmap="RdBu", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(len(models)), models, fontsize="small")
    for i in range(len(models)):
        for j in range(len(columns)):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize="x-small")
    fig.colorbar(image, ax=ax, label="accuracy % (50 = chance)")
    ax.set_title(f"Minimal-pair accuracy ({summary['pairs']} pairs)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def run_probe(
    name: str,
    cfg: ProbeConfig,
    *,
    seed: int,
    text_path: str | Path,
    model_dir: str | Path | None = None,
    random_arch: str | None = None,
    ngram: str | None = None,
    model_params=None,
    tokenizers_dir: str | Path = "data/tokenizers",
) -> tuple[ProbeResult, dict[str, str]]:
    """The stage's work: read the pairs, build the scorer (exactly one of `model_dir`, `random_arch`, `ngram`),
    score it (and its exported `probe.steps` checkpoints), and return the result and its inputs' SHA-256.

    Args:
        name: the row name (`llama-leaner-s65`, `llama-random`, `unigram-leaner`).
        cfg: the `probe` section.
        seed: the global seed (random init and the bootstrap).
        text_path: the training text (composed train split) for the vocabulary filter and the n-gram model.
        model_dir: a pretrained model folder.
        random_arch: the random-init baseline of this arch (needs `model_params` and `tokenizers_dir`).
        ngram: `unigram` | `bigram` reference.
    """
    from tinyhelen.core.io import sha256_file
    from tinyhelen.eval.minimal_pairs import load_pairs, resolve_source
    from tinyhelen.eval.scoring import word_counts

    if sum(x is not None for x in (model_dir, random_arch, ngram)) != 1:
        raise ValueError("give exactly one of model_dir, random_arch, ngram")
    pairs = load_pairs(
        cfg.source, cfg.format, paradigms=cfg.paradigms, max_pairs=cfg.max_pairs, cache_dir=cfg.hub_cache_dir
    )
    texts = training_texts(text_path)
    counts = word_counts(texts)
    inputs = {str(text_path): sha256_file(text_path)}
    source = Path(resolve_source(cfg.source))
    if source.is_dir():
        inputs.update({str(p): sha256_file(p) for p in sorted(source.iterdir()) if p.is_file()})
    step_scorers: dict[int, Scorer] = {}
    if ngram is not None:
        scorer: Scorer = ngram_scorer(ngram, texts, cfg.add_k)
        kind = "ngram"
    elif random_arch is not None:
        scorer = random_scorer(random_arch, model_params, tokenizers_dir, cfg, seed)
        kind = scorer.kind
    else:
        model_dir = Path(model_dir)
        scorer = ModelScorer.load(model_dir, cfg)
        kind = scorer.kind
        inputs.update({str(p): sha256_file(p) for p in sorted(model_dir.iterdir()) if p.is_file()})
        for step in cfg.steps:
            step_dir = model_dir / f"step-{step}"
            if not step_dir.is_dir():
                raise DataError(
                    f"{step_dir}: no exported checkpoint for probe.steps {step} (export it in "
                    "pretrain, or remove the step)"
                )
            tokenizer_dir = step_dir if (step_dir / "tokenizer.json").is_file() else model_dir
            step_scorers[step] = ModelScorer.load(step_dir, cfg, tokenizer_dir)
    del texts
    result = probe_model(
        name, pairs, cfg, scorer=scorer, counts=counts, seed=seed, kind=kind, step_scorers=step_scorers
    )
    return result, inputs
