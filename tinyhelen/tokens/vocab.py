"""Vocabulary and complexity metrics per corpus variant and genre: the paper's "low complexity", measured.

For each (variant, genre), over the pooled splits, and for each variant over all genres (`all`):

- `words`, `vocabulary` (distinct lower-cased words; a word is a run of letters, apostrophes inside);
- `list_coverage`: share of word tokens in the reference word list; `oov_rate` = 1 - coverage;
  `oov_type_rate`: share of the vocabulary outside the list; `list_used`: share of the list that occurs;
- `type_token_ratio`; `unigram_entropy` (bits per word);
- `sentences`, `mean_sentence_length` (words per sentence, with the project's sentence splitter);
- `flesch_reading_ease`, `flesch_kincaid_grade`: the standard formulas over those word and sentence counts
  and `textstat`'s syllable counter (per word type, so a corpus costs one pass);
- `distinct_2`, `distinct_3`: distinct n-grams / all n-grams, n-grams kept inside documents.

The reference list (`word_list`) is the `word_list_size` most frequent words of the leaner training text
(ties broken alphabetically) or of English at large (the `wordfreq` package).

    result = measure_vocabulary(cfg, split_text, {"leaner": Path("data/leaner"), "ori": Path("data/clean/ori")})
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.documents import corpus_file, iter_documents
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import sha256_file
from tinyhelen.tokens.config import VocabConfig

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/vocab.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("word_list", "*.all")

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

#: Metrics drawn in the plot and printed in the table, with their labels.
SHOWN = {
    "vocabulary": "vocabulary",
    "oov_rate": "OOV rate",
    "type_token_ratio": "type/token",
    "unigram_entropy": "entropy (bits)",
    "mean_sentence_length": "words/sentence",
    "flesch_reading_ease": "Flesch ease",
    "distinct_2": "distinct-2",
    "distinct_3": "distinct-3",
}


def words(text: str) -> list[str]:
    """The lower-cased words of a text: runs of letters, with inner apostrophes (`don't`)."""
    return _WORD.findall(text.lower().replace("’", "'"))


def unigram_entropy(counts: Counter) -> float:
    """Shannon entropy of the word distribution, in bits."""
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


@functools.cache
def syllables(word: str) -> int:
    """Syllables in a word, by textstat's counter (at least 1)."""
    import textstat

    return max(1, textstat.syllable_count(word))


def readability(per_sentence: float, per_word: float) -> dict[str, float]:
    """Flesch reading ease and Flesch-Kincaid grade from words per sentence and syllables per word."""
    return {
        "flesch_reading_ease": 206.835 - 1.015 * per_sentence - 84.6 * per_word,
        "flesch_kincaid_grade": 0.39 * per_sentence + 11.8 * per_word - 15.59,
    }


class TextStats:
    """Accumulates the counts behind every metric, one document at a time."""

    def __init__(self, split_sentences: Callable[[str], list[str]]) -> None:
        self.split_sentences = split_sentences
        self.counts: Counter = Counter()
        self.documents = 0
        self.sentences = 0
        self.sentence_words = 0
        self.ngrams = {2: set(), 3: set()}
        self.ngram_totals = {2: 0, 3: 0}

    def add(self, text: str) -> None:
        tokens = words(text)
        self.documents += 1
        self.counts.update(tokens)
        for n, seen in self.ngrams.items():
            grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
            seen.update(grams)
            self.ngram_totals[n] += len(grams)
        for sentence in self.split_sentences(text):
            count = len(words(sentence))
            if count:
                self.sentences += 1
                self.sentence_words += count

    def metrics(self, word_list: frozenset[str]) -> dict[str, Any]:
        total = sum(self.counts.values())
        vocabulary = len(self.counts)
        in_list = sum(c for w, c in self.counts.items() if w in word_list)
        types_in_list = sum(1 for w in self.counts if w in word_list)
        num_syllables = sum(syllables(w) * c for w, c in self.counts.items())
        return {
            "documents": self.documents,
            "words": total,
            "vocabulary": vocabulary,
            "list_coverage": in_list / total if total else 0.0,
            "oov_rate": 1 - in_list / total if total else 0.0,
            "oov_type_rate": 1 - types_in_list / vocabulary if vocabulary else 0.0,
            "list_used": types_in_list / len(word_list) if word_list else 0.0,
            "type_token_ratio": vocabulary / total if total else 0.0,
            "unigram_entropy": unigram_entropy(self.counts),
            "sentences": self.sentences,
            "mean_sentence_length": self.sentence_words / self.sentences if self.sentences else 0.0,
            **readability(
                self.sentence_words / self.sentences if self.sentences else 0.0, num_syllables / total if total else 0.0
            ),
            **{
                f"distinct_{n}": len(self.ngrams[n]) / self.ngram_totals[n] if self.ngram_totals[n] else 0.0
                for n in (2, 3)
            },
        }


def build_word_list(source: str, size: int, texts: Iterable[str]) -> list[str]:
    """The reference word list: the `size` most frequent words of `texts` (source `leaner`, ties broken
    alphabetically) or of English (source `wordfreq`, the package's own ranking, letters-only words)."""
    if source == "wordfreq":
        import wordfreq

        ranked = [w for w in wordfreq.top_n_list("en", size * 2) if _WORD.fullmatch(w)]
        return ranked[:size]
    counts: Counter = Counter()
    for text in texts:
        counts.update(words(text))
    if not counts:
        raise DataError("vocab.word_list=leaner: the leaner training text has no words")
    return [w for w, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size]]


@dataclass(frozen=True)
class VocabResult:
    """What `measure_vocabulary` found: metrics, the word list, and input hashes for meta.json."""

    metrics: dict[str, Any]
    word_list: list[str]
    inputs: dict[str, str]


def measure_vocabulary(
    cfg: VocabConfig, split_sentences: Callable[[str], list[str]], corpora: dict[str, Path]
) -> VocabResult:
    """Measure every (variant, genre) of the corpora over `cfg.splits`.

    Args:
        cfg: the `vocab` params section.
        split_sentences: the project's sentence splitter (`tinyhelen.core.sentences.make_splitter`).
        corpora: variant -> corpus folder (`leaner` -> data/leaner, `ori` -> data/clean/ori).

    Returns:
        `metrics[variant][genre|"all"]` (see the module docstring), genres with no text under `absent`.
    """
    inputs: dict[str, str] = {}

    def texts(variant: str, splits: Iterable[str], genre: str) -> Iterable[str]:
        for split in splits:
            path = corpus_file(corpora[variant], split, genre)
            if path.is_file():
                inputs[str(path)] = sha256_file(path)
            for record in iter_documents(path):
                yield record["text"]

    word_list = build_word_list(
        cfg.word_list, cfg.word_list_size, (t for g in cfg.genres for t in texts("leaner", ["train"], g))
    )
    if len(word_list) < cfg.word_list_size:
        log.warning(
            "the reference word list has only %d words (vocab.word_list_size=%d): the %s source has no more",
            len(word_list),
            cfg.word_list_size,
            cfg.word_list,
        )
    listed = frozenset(word_list)
    metrics: dict[str, Any] = {"word_list": {"source": cfg.word_list, "size": len(word_list)}, "absent": []}
    for variant in corpora:
        pooled = TextStats(split_sentences)
        metrics[variant] = {}
        for genre in tqdm(cfg.genres, desc=f"vocab {variant}", unit="genre"):
            stats = TextStats(split_sentences)
            for text in texts(variant, cfg.splits, genre):
                stats.add(text)
                pooled.add(text)
            if stats.documents == 0:
                metrics["absent"].append(f"{variant}/{genre}")
                continue
            metrics[variant][genre] = stats.metrics(listed)
        metrics[variant]["all"] = pooled.metrics(listed)
    if metrics["absent"]:
        log.warning("no text for %s in splits %s", metrics["absent"], cfg.splits)
    return VocabResult(metrics=metrics, word_list=word_list, inputs=inputs)


def format_table(metrics: dict[str, Any]) -> str:
    """A plain-words table: one row per genre, `ori -> leaner` for each shown metric."""
    genres = [g for g in metrics.get("leaner", {}) if g in metrics.get("ori", {})]
    header = ["genre", *SHOWN.values()]
    rows = [header]
    for genre in genres:
        cells = [genre]
        for key in SHOWN:
            before, after = metrics["ori"][genre][key], metrics["leaner"][genre][key]
            fmt = "{:.0f}" if key == "vocabulary" else "{:.3g}"
            cells.append(f"{fmt.format(before)} -> {fmt.format(after)}")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) for row in rows)


def plot_comparison(metrics: dict[str, Any], path: str | Path) -> None:
    """Bar charts, one panel per shown metric, ori vs leaner per genre; written atomically as a png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tinyhelen.core.io import atomic_open

    variants = [v for v in ("ori", "leaner") if v in metrics]
    genres = sorted({g for v in variants for g in metrics[v]}, key=lambda g: (g == "all", g))
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    x = np.arange(len(genres))
    for ax, (key, label) in zip(axes.flat, SHOWN.items(), strict=False):
        for offset, variant in zip((-0.2, 0.2), variants, strict=False):
            values = [metrics[variant].get(g, {}).get(key, np.nan) for g in genres]
            ax.bar(x + offset, values, width=0.4, label=variant)
        ax.set_title(label)
        ax.set_xticks(x, genres, rotation=45, ha="right", fontsize=8)
    axes.flat[0].legend()
    fig.suptitle(
        f"ori vs leaner per genre (word list: {metrics['word_list']['source']}, {metrics['word_list']['size']} words)"
    )
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=80)
    plt.close(fig)
