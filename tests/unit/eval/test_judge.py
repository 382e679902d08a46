"""Judge-reply parsing, recorded permutations, prompt templates, bootstrap intervals and the table arithmetic."""

from __future__ import annotations

import pytest

from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError
from tinyhelen.eval.judge import (
    Entry,
    Group,
    JudgeParseError,
    load_judge_templates,
    parse_scores,
    permutation,
)
from tinyhelen.eval.leaner_eval import (
    answer_columns,
    bootstrap_interval,
    judge_free_difference,
    judge_free_intervals,
    judge_free_metrics,
    select_checkpoints,
    summarise_model,
)


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("A: 3 4 2\nB: 5 5 0", [(3, 4, 2), (5, 5, 0)]),
        ("Here are my scores.\n**B.** 1, 2, 3\nA) 0 0 0\n", [(0, 0, 0), (1, 2, 3)]),
        ("A. 4\\t3\\t2\nB. 2\\t2\\t2", [(4, 3, 2), (2, 2, 2)]),  # the original's literal \t separators
    ],
)
def test_parse_scores_reads_every_label_in_order(reply, expected):
    assert parse_scores(reply, 2) == expected


@pytest.mark.parametrize(
    "reply, reason",
    [
        ("", "empty_output"),
        ("A: 3 4 2", "misaligned"),  # a line missing
        ("A: 3 4 2\nB: 1 1 1\nC: 2 2 2", "misaligned"),  # a label too many
        ("A: 3 4 2\nA: 1 1 1", "duplicate_label"),
        ("A: 3 4\nB: 1 1 1", "bad_line"),
        ("A: 3 4 6\nB: 1 1 1", "out_of_range"),
        ("A: 3 4 2.5\nB: 1 1 1", "out_of_range"),
        ("I cannot rate these answers.", "misaligned"),
    ],
)
def test_parse_scores_rejects_with_a_reason(reply, reason):
    with pytest.raises(JudgeParseError) as error:
        parse_scores(reply, 2)
    assert error.value.reason == reason


def test_permutation_is_seeded_per_group_and_independent_of_anything_else(params):
    cfg = params.judge
    group = Group("inner", "q1", "Why?", "split-0-7", tuple((f"m{i}", "x") for i in range(10)))
    order = permutation(cfg, group)
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert permutation(cfg, group) == order
    assert permutation(with_changes(cfg, shuffle_seed=cfg.shuffle_seed + 1), group) != order
    other = Group("inner", "q2", "Why?", "split-0-7", group.members)
    assert permutation(cfg, other) != order


def test_templates_need_every_placeholder_and_no_other(params, tmp_path, repo_root):
    templates = load_judge_templates(repo_root / params.judge.prompts_dir)
    assert set(templates) == {"listwise", "reask"}
    (tmp_path / "listwise.txt").write_text("{question} {answers} {num_answers}")
    (tmp_path / "reask.txt").write_text("{reason} {num_answers} {labels}")
    with pytest.raises(ConfigError, match="labels"):
        load_judge_templates(tmp_path)
    (tmp_path / "listwise.txt").write_text("{question} {answers} {num_answers} {labels} {generation_id}")
    with pytest.raises(ConfigError, match="generation_id"):  # the original left such placeholders unfilled
        load_judge_templates(tmp_path)


def test_bootstrap_interval_contains_the_mean_and_shrinks_with_more_questions():
    base = [3, 9, 12, 7, 15, 0, 10, 11]
    small = bootstrap_interval(base, 2000, 1)
    large = bootstrap_interval(base * 16, 2000, 1)
    mean = sum(base) / len(base)
    assert small[0] <= mean <= small[1] and large[0] <= mean <= large[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 2  # ~ 1/sqrt(16) of the width
    assert bootstrap_interval(base, 2000, 1) == small  # seeded
    assert bootstrap_interval([], 10, 1) is None


def _record(qid, split, g, c, s, null=None):
    return {"question_id": qid, "split": split, "grammar": g, "coherence": c, "specificity": s, "null": null}


def test_summary_means_by_hand(params):
    records = {
        "q1": _record("q1", "split-0-7", 5, 4, 3),
        "q2": _record("q2", "split-0-7", 1, 2, 3),
        "q3": _record("q3", "split-9-10", 4, 4, 4),
        "q4": _record("q4", "split-9-10", None, None, None, "x"),
    }
    summary = summarise_model(records, params.judge)
    assert summary["grammar"]["mean"] == round((5 + 1 + 4) / 3, 4)
    assert summary["sum"]["mean"] == round((12 + 6 + 12) / 3, 4) and summary["sum"]["questions"] == 3
    assert summary["nulls"] == 1
    assert summary["splits"]["0-7"]["sum"]["mean"] == 9.0 and summary["splits"]["9-10"]["sum"]["mean"] == 12.0
    assert set(summary["splits"]) == {"0-7", "9-10"}


def test_selection_prefers_the_best_sum_then_the_earlier_step():
    inner = {
        "r@step-100": {"sum": {"mean": 9.0}},
        "r@step-200": {"sum": {"mean": 9.0}},
        "r": {"sum": {"mean": 8.0}},
        "s@step-100": {"sum": {"mean": 7.0}},
        "s": {"sum": {"mean": 7.0}},
        "t": {"sum": {"mean": None}},
    }
    entries = [Entry("r", 200), Entry("r"), Entry("r", 100), Entry("s"), Entry("s", 100), Entry("t"), Entry("t", 5)]
    chosen = select_checkpoints(inner, entries)
    assert chosen == {"r": Entry("r", 100), "s": Entry("s", 100), "t": Entry("t")}


def test_judge_free_metrics_by_hand():
    answers = ["the cat saw the cat saw the cat", "", "a dog ran"]
    metrics = judge_free_metrics(answers, frozenset({"the", "cat", "dog"}), [(6.0, 3), (0.0, 0), (3.0, 3)])
    assert metrics["answers"] == 3 and metrics["empty_rate"] == round(1 / 3, 4)
    assert metrics["answer_words"] == round(11 / 3, 4)
    assert metrics["distinct_1"] == round(6 / 11, 4)  # the cat saw a dog ran
    assert metrics["distinct_2"] == round(5 / 9, 4)  # 7 + 2 bigrams, of which 3 + 2 distinct
    # trigrams of answer 1: the-cat-saw, cat-saw-the, saw-the-cat, the-cat-saw, cat-saw-the, saw-the-cat -> 3 of 6
    assert metrics["repetition_rate"] == round((0.5 + 0.0) / 2, 4)
    assert metrics["word_list_share"] == round(7 / 11, 4)
    assert metrics["reference_perplexity"] == round(2.718281828 ** (9 / 6), 2)


def test_judge_free_intervals_and_the_paired_leaner_minus_ori_difference(params):
    words_list = frozenset({"the", "cat", "dog"})
    answers = ["the cat saw the cat", "a dog ran", "", "the dog", "cat cat cat"]
    losses = [(6.0, 3), (3.0, 3), (0.0, 0), (2.0, 2), (1.0, 3)]
    columns = answer_columns(answers, words_list, losses)
    point = judge_free_metrics(answers, words_list, losses)
    intervals = judge_free_intervals(columns, params.judge)
    for name in ("answer_words", "empty_rate", "word_list_share", "reference_perplexity"):
        low, high = intervals[f"{name}_ci95"]
        assert low <= point[name] <= high and low < high
    assert judge_free_intervals(answer_columns([], words_list, None), params.judge)["answer_words_ci95"] is None
    # the same answers twice: every difference 0, paired intervals [0, 0]
    same = judge_free_difference(columns, columns, params.judge)
    assert all(v == {"diff": 0.0, "ci95": [0.0, 0.0]} for v in same.values())
    # one more word in every leaner answer: +1 word per answer whatever questions are drawn
    longer = answer_columns([a + " the" for a in answers], words_list, None)
    diff = judge_free_difference(longer, columns, params.judge)
    assert diff["answer_words"] == {"diff": 1.0, "ci95": [1.0, 1.0]}
    assert diff["reference_perplexity"] == {"diff": None, "ci95": None}  # no reference losses on one side
    # "the" is in the list: the share never falls (it stays when a resample holds only all-listed answers)
    assert diff["word_list_share"]["diff"] > 0 and diff["word_list_share"]["ci95"][0] >= 0


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("judge", "group_size", 27),
        ("judge", "backend", "openai"),
        ("judge", "nosuch", 1),
        ("generate", "archs", ["bert"]),
        ("generate", "sets", ["all", "all"]),
        ("generate", "max_new_tokens", 0),
    ],
)
def test_eval_sections_are_strict(repo_root, section, key, value):
    import yaml

    from tinyhelen.params import validate_params

    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw[section][key] = value
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        validate_params(raw)
