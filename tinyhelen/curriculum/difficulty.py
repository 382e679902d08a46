"""Per-document difficulty of a corpus's training documents: sentence length and reference-LM loss (spec §7.4).

    result = score_difficulty(params.difficulty, params.sentences, composed_dir="data/composed")
    write_difficulty(result, "data/difficulty/leaner.jsonl", "results/difficulty/leaner")

One record per document of data/composed/<corpus>/train.jsonl, in file order and keyed by `id` (so the
scores stay aligned when the corpus changes; the curriculum joins them by id):

    {"id": ..., "genre": "web", "sentences": 12, "words": 140, "words_per_sentence": 11.6667,
     "tokens": 190, "predicted": 189, "loss": 3.216492}

- `words_per_sentence`: mean whitespace words per sentence, sentences from the project's splitter
  (`sentences.splitter`; the original used spaCy's), the key of `iter-sentlen`;
- `loss`: the reference LM's summed token loss over the tokens it predicts (each block of `block_size` tokens
  predicts all but its first), divided by those tokens (`tinyhelen.curriculum.scoring`), the key of `iter-lmloss`.

Also a histogram of the per-document losses per genre (`histogram_bins` over [0, `histogram_max`]) as CSV and
PNG, and headline metrics (token-weighted mean loss per genre, rank correlation of loss and sentence length).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.config import SentencesConfig
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_open, sha256_file, write_jsonl
from tinyhelen.core.plots import write_csv
from tinyhelen.core.sentences import make_splitter
from tinyhelen.curriculum.config import DifficultyConfig
from tinyhelen.curriculum.pool import TokenPool, read_documents
from tinyhelen.curriculum.scoring import mean_losses, score_documents

log = logging.getLogger(__name__)

GENRE_COLOURS = {
    "web": "#267365",
    "book": "#C37EDB",
    "wiki": "#9AEBA3",
    "textbook": "#8F797E",
    "conversation": "#FF6B1A",
    "code": "#D94169",
    "math": "#2A4359",
    "instruction": "#A62145",
}


@dataclass
class DifficultyResult:
    records: list[dict[str, Any]]
    metrics: dict[str, Any]
    histogram: list[dict[str, Any]]
    inputs: dict[str, str] = field(default_factory=dict)


def sentence_lengths(texts: list[str], sentences: SentencesConfig) -> tuple[list[int], list[int]]:
    """(sentences, words) per text with the configured splitter."""
    split = make_splitter(sentences, training_texts=texts if sentences.splitter == "punkt" else None)
    counts, words = [], []
    for text in texts:
        parts = split(text)
        counts.append(len(parts))
        words.append(sum(len(part.split()) for part in parts))
    return counts, words


def load_reference(model_dir: str | Path, device_name: str):
    """The reference causal LM (offline) and its device."""
    import torch
    from transformers import AutoModelForCausalLM

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise DataError(f"{model_dir}: no model here (difficulty.reference_model; run its pretrain stage first)")
    if not (model_dir / "tokenizer.json").is_file():
        raise DataError(f"{model_dir}: no tokenizer.json beside the model")
    if device_name == "cuda" and not torch.cuda.is_available():
        raise DataError("difficulty.device is 'cuda' but no CUDA device is available")
    device = torch.device(
        "cuda" if device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available()) else "cpu"
    )
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True).to(device)
    return model, device


def histogram(losses: np.ndarray, genres: list[str], bins: int, top: float) -> list[dict[str, Any]]:
    """Rows (genre, bin_low, bin_high, documents) of per-document losses; losses >= top go to the last bin."""
    edges = np.linspace(0.0, top, bins + 1)
    rows = []
    genre_array = np.asarray(genres)
    for genre in sorted(set(genres)):
        values = np.clip(losses[(genre_array == genre) & np.isfinite(losses)], 0.0, top)
        counts, _ = np.histogram(values, bins=edges)
        rows += [
            {
                "genre": genre,
                "bin_low": round(float(edges[i]), 6),
                "bin_high": round(float(edges[i + 1]), 6),
                "documents": int(counts[i]),
            }
            for i in range(bins)
        ]
    return rows


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3 or np.ptp(a[keep]) == 0 or np.ptp(b[keep]) == 0:
        return None
    return round(float(spearmanr(a[keep], b[keep]).statistic), 4)


def score_difficulty(
    cfg: DifficultyConfig, sentences: SentencesConfig, *, composed_dir: str | Path
) -> DifficultyResult:
    """Score every training document of `cfg.corpus` (see the module docstring)."""
    import torch

    path = Path(composed_dir) / cfg.corpus / "train.jsonl"
    docs = read_documents(path)
    model, device = load_reference(cfg.reference_model, cfg.device)
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions is not None and cfg.block_size > max_positions:
        raise DataError(
            f"difficulty.block_size {cfg.block_size} exceeds the reference model's "
            f"max_position_embeddings ({max_positions}, {cfg.reference_model}/config.json)"
        )
    if device.type == "cpu" and cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    pool = TokenPool.from_texts(docs.ids, docs.texts, cfg.reference_model)
    log.info(
        "%s: %d documents, %s tokens; scoring with %s on %s",
        path,
        len(pool),
        f"{int(pool.lengths.sum()):,}",
        cfg.reference_model,
        device,
    )
    loss_sum, predicted = score_documents(
        model, pool, block_size=cfg.block_size, batch_size=cfg.batch_size, device=device
    )
    losses = mean_losses(loss_sum, predicted)
    counts, words = sentence_lengths(docs.texts, sentences)
    per_sentence = np.asarray([w / c if c else 0.0 for w, c in zip(words, counts, strict=False)], dtype=np.float64)
    records = [
        {
            "id": docs.ids[i],
            "genre": docs.genres[i],
            "sentences": counts[i],
            "words": words[i],
            "words_per_sentence": round(float(per_sentence[i]), 4),
            "tokens": int(pool.lengths[i]),
            "predicted": int(predicted[i]),
            "loss": round(float(losses[i]), 6) if math.isfinite(losses[i]) else None,
        }
        for i in range(len(pool))
    ]
    scored = np.isfinite(losses)
    genres: dict[str, Any] = {}
    genre_array = np.asarray(docs.genres)
    for genre in sorted(set(docs.genres)):
        mask = (genre_array == genre) & scored
        genres[genre] = {
            "documents": int((genre_array == genre).sum()),
            "loss": round(float(loss_sum[mask].sum() / max(predicted[mask].sum(), 1)), 4),
            "words_per_sentence": round(float(per_sentence[genre_array == genre].mean()), 4),
        }
    metrics = {
        "corpus": cfg.corpus,
        "documents": len(pool),
        "tokens": int(pool.lengths.sum()),
        "unscored_documents": int((~scored).sum()),
        "loss": round(float(loss_sum.sum() / max(predicted.sum(), 1)), 4),
        "loss_median": round(float(np.median(losses[scored])), 4) if scored.any() else None,
        "words_per_sentence_mean": round(float(per_sentence.mean()), 4),
        "words_per_sentence_median": round(float(np.median(per_sentence)), 4),
        "spearman_loss_sentlen": spearman(losses, per_sentence),
        "genres": genres,
    }
    inputs = {str(path): sha256_file(path)}
    inputs.update(
        {
            str(p): sha256_file(p)
            for p in sorted(Path(cfg.reference_model).iterdir())
            if p.is_file() and p.name != "meta.json"
        }
    )
    return DifficultyResult(
        records, metrics, histogram(losses, docs.genres, cfg.histogram_bins, cfg.histogram_max), inputs
    )


def write_difficulty(result: DifficultyResult, out_path: str | Path, plots_dir: str | Path) -> None:
    """The per-document file and, into `plots_dir`, loss_histogram.csv and loss_histogram.png."""
    write_jsonl(out_path, result.records)
    plots_dir = Path(plots_dir)
    write_csv(result.histogram, plots_dir / "loss_histogram.csv")
    plot_histogram(
        result.histogram,
        plots_dir / "loss_histogram.png",
        title=f"{result.metrics['corpus']}: reference-LM loss per training document",
    )


def plot_histogram(rows: list[dict[str, Any]], path: str | Path, *, title: str) -> None:
    """Stacked per-genre bars of document counts per loss bin, a line at each genre's mean."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    genres = list(dict.fromkeys(row["genre"] for row in rows))
    bottom = None
    for genre in genres:
        part = [row for row in rows if row["genre"] == genre]
        lows = np.asarray([row["bin_low"] for row in part])
        width = part[0]["bin_high"] - part[0]["bin_low"]
        counts = np.asarray([row["documents"] for row in part], dtype=float)
        colour = GENRE_COLOURS.get(genre)
        ax.bar(lows, counts, width=width, align="edge", bottom=bottom, color=colour, label=genre)
        if counts.sum():
            ax.axvline(float((lows + width / 2) @ counts / counts.sum()), color=colour or "black", ls="--", lw=1)
        bottom = counts if bottom is None else bottom + counts
    occupied = [row["bin_high"] for row in rows if row["documents"]]
    if occupied:
        ax.set_xlim(0, max(occupied))
    ax.set_xlabel("mean token loss (nats)")
    ax.set_ylabel("documents")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
