"""Vocabulary metrics against values computed by hand on tiny texts."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tinyhelen.tokens.vocab import (
    TextStats,
    build_word_list,
    format_table,
    readability,
    unigram_entropy,
    words,
)


def _split_on_periods(text: str) -> list[str]:
    return [s.strip() for s in text.split(".") if s.strip()]


def test_words_lowercases_and_keeps_inner_apostrophes():
    assert words("Don't STOP, it's 5 o’clock! Café-time_2") == ["don't", "stop", "it's", "o'clock", "café", "time"]


def test_unigram_entropy_by_hand():
    assert unigram_entropy(Counter({"a": 2, "b": 2})) == pytest.approx(1.0)
    assert unigram_entropy(Counter({"a": 1, "b": 1, "c": 1, "d": 1})) == pytest.approx(2.0)
    expected = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert unigram_entropy(Counter({"a": 3, "b": 1})) == pytest.approx(expected)
    assert unigram_entropy(Counter()) == 0.0


def test_readability_matches_the_flesch_formulas():
    scores = readability(per_sentence=10, per_word=1.5)
    assert scores["flesch_reading_ease"] == pytest.approx(206.835 - 10.15 - 126.9)
    assert scores["flesch_kincaid_grade"] == pytest.approx(3.9 + 17.7 - 15.59)


def test_text_stats_by_hand():
    stats = TextStats(_split_on_periods)
    stats.add("The cat sat. The cat ran.")  # 6 words, 2 sentences
    stats.add("A dog sat")  # 3 words, 1 sentence
    m = stats.metrics(frozenset({"the", "cat", "dog"}))
    assert m["documents"] == 2 and m["words"] == 9 and m["sentences"] == 3
    assert m["vocabulary"] == 6  # the cat sat ran a dog
    assert m["type_token_ratio"] == pytest.approx(6 / 9)
    assert m["list_coverage"] == pytest.approx(5 / 9)  # the x2, cat x2, dog
    assert m["oov_rate"] == pytest.approx(4 / 9)
    assert m["oov_type_rate"] == pytest.approx(3 / 6)
    assert m["list_used"] == pytest.approx(1.0)
    assert m["mean_sentence_length"] == pytest.approx(3.0)
    # bigrams inside documents: (the cat) x2, (cat sat), (sat the), (cat ran), (a dog), (dog sat) -> 6 / 7
    assert m["distinct_2"] == pytest.approx(6 / 7)
    # trigrams: the cat sat, cat sat the, sat the cat, the cat ran, a dog sat -> 5 distinct of 5
    assert m["distinct_3"] == pytest.approx(1.0)
    counts = Counter({"the": 2, "cat": 2, "sat": 2, "ran": 1, "a": 1, "dog": 1})
    assert m["unigram_entropy"] == pytest.approx(unigram_entropy(counts))
    # every word here has one syllable
    assert m["flesch_reading_ease"] == pytest.approx(206.835 - 1.015 * 3 - 84.6)


def test_readability_agrees_with_textstat_on_simple_prose():
    import textstat

    text = "The cat sat on the mat. It was a happy cat. The sun was warm and bright."
    stats = TextStats(_split_on_periods)
    stats.add(text)
    ours = stats.metrics(frozenset())["flesch_reading_ease"]
    assert ours == pytest.approx(textstat.flesch_reading_ease(text), abs=1.0)


def test_word_list_from_leaner_text_breaks_ties_alphabetically():
    assert build_word_list("leaner", 3, ["b a c", "a b d", "z"]) == ["a", "b", "c"]


def test_word_list_from_wordfreq_holds_common_words():
    listed = build_word_list("wordfreq", 2000, [])
    assert len(listed) == 2000 and {"the", "and", "house"} <= set(listed)


def test_format_table_shows_ori_then_leaner():
    row = {
        "vocabulary": 10,
        "oov_rate": 0.5,
        "type_token_ratio": 0.3,
        "unigram_entropy": 3.0,
        "mean_sentence_length": 12.0,
        "flesch_reading_ease": 60.0,
        "distinct_2": 0.9,
        "distinct_3": 0.95,
    }
    table = format_table({"ori": {"wiki": row}, "leaner": {"wiki": {**row, "vocabulary": 4}}})
    assert "wiki" in table.splitlines()[1] and "10 -> 4" in table
