"""The listwise judge against the fake OpenAI-compatible server: shuffles recorded and undone, every fault
re-asked or a counted null, zero calls on a re-run, and the table's numbers recomputed by hand."""

from __future__ import annotations

import pytest

from tests.fake_llm_server import FakeLLMServer, judge_scores
from tests.fixtures.leaner_eval import INNER, QUESTIONS, answer_records, question_id
from tinyhelen.core.config import with_changes
from tinyhelen.eval.judge import Entry, Group, judge_groups, judge_settings, load_judge_templates
from tinyhelen.eval.leaner_eval import leaner_eval
from tinyhelen.simplify.llm import CachedLLM, ResponseCache


@pytest.fixture
def server(monkeypatch):
    with FakeLLMServer() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield fake


def _client(params, cfg, tmp_path):
    llm = with_changes(params.llm, max_attempts=3, backoff_base_s=0.0, backoff_max_s=0.0)
    return CachedLLM(judge_settings(llm, cfg), cache=ResponseCache(tmp_path / "cache.sqlite")), llm


def _sum(text):
    return sum(judge_scores(" ".join(text.split())))


def test_shuffle_is_recorded_and_scores_return_to_their_models(server, params, tmp_path, repo_root):
    cfg = with_changes(params.judge, backend="llm", group_size=10)
    client, _ = _client(params, cfg, tmp_path)
    members = tuple((f"model-{i}", " ".join(["word"] * i + [f"w{j}xyz" for j in range(i % 4)])) for i in range(1, 8))
    group = Group("inter", "q1", "What is it?", None, members)
    outcome = judge_groups([group], client, cfg, load_judge_templates(repo_root / cfg.prompts_dir))
    call = outcome.calls[0]
    assert sorted(call["permutation"]) == list(range(7)) and call["permutation"] != list(range(7))
    assert call["presented"] == [members[i][0] for i in call["permutation"]]
    assert call["system_fingerprint"] == "fp_fake_1"
    prompt = server.prompts[-1]
    for record in outcome.scores:  # the label each model got is where its answer stood in the prompt
        answer = dict(members)[record["model"]]
        assert f"[{record['label']}]\n{answer}\n[/{record['label']}]" in prompt
        assert (record["grammar"], record["coherence"], record["specificity"]) == judge_scores(answer)


def test_every_fault_is_reasked_or_a_counted_null(server, params, tmp_path, repo_root):
    cfg = with_changes(params.judge, backend="llm", max_parse_retries=2)
    client, _ = _client(params, cfg, tmp_path)
    templates = load_judge_templates(repo_root / cfg.prompts_dir)
    groups = [
        Group("inter", f"q{i}", "Why?", None, (("a", text), ("b", "fine words here")))
        for i, text in enumerate(
            [
                "FAULT:judgeshort x",
                "FAULT:judgegarbage y",
                "FAULT:judgerange z",
                "FAULT:500 ok",
                "FAULT:429always no",
                "",
            ]
        )
    ]
    outcome = judge_groups(groups, client, cfg, templates)
    calls = {call["question_id"]: call for call in outcome.calls}
    assert calls["q0"]["attempts"] == 2 and calls["q0"]["failures"] == ["misaligned"] and calls["q0"]["null"] is None
    assert calls["q1"]["attempts"] == 2 and calls["q1"]["null"] is None
    assert calls["q2"]["attempts"] == 3 and calls["q2"]["failures"] == ["out_of_range"] * 3
    assert calls["q2"]["null"] == "out_of_range"
    assert calls["q3"]["attempts"] == 1 and calls["q3"]["null"] is None  # 500 retried inside the client
    assert calls["q4"]["null"] == "http_429"  # endpoint gave up: re-asked, then null
    by_key = {(r["question_id"], r["model"]): r for r in outcome.scores}
    assert by_key[("q2", "a")]["grammar"] is None and by_key[("q2", "b")]["null"] == "out_of_range"
    assert by_key[("q5", "a")]["by"] == "rule"  # an empty answer is not shown: 0 by rule
    assert by_key[("q5", "a")]["grammar"] == 0 and by_key[("q5", "b")]["by"] == "judge"
    assert outcome.nulls == 4  # q2 and q4, two answers each
    assert outcome.failures == {"misaligned": 2, "out_of_range": 3, "http_429": 3}
    # each re-ask was a new request (the attempt salts the cache key), so q2 reached the server three times
    assert sum("FAULT:judgerange" in p for p in server.prompts) == 3


def _answers():
    """Two recipes with one checkpoint each; answers written so the fake judge's sums are easy to check."""
    good = {i: f"the cat made a cake number {i}" for i in range(len(QUESTIONS))}
    return {
        Entry("r1"): answer_records(good),
        Entry("r1", 10): answer_records({i: "yes" for i in INNER}),
        Entry("r2"): answer_records({i: "a dog ran" for i in range(len(QUESTIONS))}),
        Entry("r2", 10): answer_records({i: "the old man ate some bread" for i in INNER}),
    }


def test_leaner_eval_table_by_hand_and_zero_calls_on_rerun(server, params, tmp_path):
    cfg = with_changes(params.judge, backend="llm", reversed_pass=True, bootstrap_samples=200)
    client, llm = _client(params, cfg, tmp_path)
    answers = _answers()
    made = []

    def answer_source(entry, missing):
        made.append((entry, len(missing)))
        return answer_records({i: "the old man ate some bread" for i in range(len(QUESTIONS)) if i not in INNER})

    result = leaner_eval(
        answers, cfg, llm, word_list=frozenset({"the", "cat"}), client=client, answer_source=answer_source
    )
    # the fake judge's rule (g = words up to 5, c = 5 - repeats, s = distinct 4+ letter words up to 5):
    # "the cat made a cake number i" -> 5 + 5 + 3 (made, cake, number); "yes" -> 1 + 5 + 0;
    # "the old man ate some bread" -> 5 + 5 + 2 (some, bread); "a dog ran" -> 3 + 5 + 0.
    inner = result.summary["inner"]
    assert inner["r1"]["sum"]["mean"] == _sum("the cat made a cake number 0") == 5 + 5 + 3
    assert inner["r1@step-10"]["sum"]["mean"] == _sum("yes") == 6
    assert inner["r2@step-10"]["sum"]["mean"] == _sum("the old man ate some bread") == 5 + 5 + 2
    assert result.summary["selected"] == {"r1": "r1", "r2": "r2@step-10"}
    assert made == [(Entry("r2", 10), len(QUESTIONS) - len(INNER))]  # the selected checkpoint answered the rest
    inter = result.metrics["inter"]
    assert inter["r1"]["sum"] == 13.0 and inter["r2@step-10"]["sum"] == 12.0
    assert inter["r2@step-10"]["grammar"] == 5.0 and inter["r2@step-10"]["specificity"] == 2.0
    assert inter["r1"]["sum_ci95"] == [13.0, 13.0] and inter["r1"]["0-7"] == 13.0
    assert result.summary["judge"]["position_bias"]["sum"] == 0.0  # the fake judge ignores order
    assert result.summary["judge"]["system_fingerprints"] == {"fp_fake_1": len(result.outcome.calls)}
    assert result.metrics["judge"]["nulls"] == 0 and result.metrics["judge"]["input_tokens"] > 0
    assert "| r1 |" in result.table and "r2@step-10 *" in result.table
    assert result.outcome.requests == len(server.prompts) > 0
    # a re-run (fresh client on the same cache) asks nothing and gives the same tables
    calls_before = len(server.prompts)
    again = leaner_eval(
        _answers(),
        cfg,
        llm,
        word_list=frozenset({"the", "cat"}),
        client=_client(params, cfg, tmp_path)[0],
        answer_source=answer_source,
    )
    assert len(server.prompts) == calls_before and again.outcome.requests == 0
    assert again.summary == result.summary and again.outcome.scores == result.outcome.scores


def test_questions_in_the_fixture_have_ids():
    assert len({question_id(i) for i in range(len(QUESTIONS))}) == len(QUESTIONS)
