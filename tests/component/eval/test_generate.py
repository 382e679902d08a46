"""Batched left-padded generation equals one-at-a-time generation; questions, checkpoints, answer losses."""

from __future__ import annotations

import pytest

from tests.fixtures.glue_models import build_lm, train_tokenizer
from tests.fixtures.leaner_eval import INNER, QUESTIONS, question_id, save_tuned_model, write_questions
from tinyhelen.core.config import with_changes
from tinyhelen.eval.generate import (
    find_checkpoints,
    generate_answers,
    generate_model,
    load_questions,
    load_template,
    mean_token_losses,
    render_prompt,
)


@pytest.fixture(scope="module")
def tiny_llama():
    tokenizer = train_tokenizer("causal")
    return build_lm("llama", tokenizer, seed=3).eval(), tokenizer


def test_batched_left_padded_answers_equal_one_at_a_time(tiny_llama, params, repo_root):
    model, tokenizer = tiny_llama
    template = load_template(repo_root / params.generate.template)
    prompts = [render_prompt(template, q) for q, _ in QUESTIONS]  # prompts of different lengths
    cfg = with_changes(params.generate, max_new_tokens=10, batch_size=8, do_sample=False)
    batched = generate_answers(model, tokenizer, prompts, cfg)
    single = [generate_answers(model, tokenizer, [p], with_changes(cfg, batch_size=1))[0] for p in prompts]
    assert batched == single
    assert {g.finish_reason for g in batched} <= {"eos", "length", "next_prompt"}
    assert all(g.tokens <= 10 for g in batched)


def test_sampling_is_seeded(tiny_llama, params, repo_root):
    model, tokenizer = tiny_llama
    template = load_template(repo_root / params.generate.template)
    prompts = [render_prompt(template, q) for q, _ in QUESTIONS[:4]]
    cfg = with_changes(params.generate, max_new_tokens=8, batch_size=4, do_sample=True, seed=1)
    first = generate_answers(model, tokenizer, prompts, cfg)
    assert generate_answers(model, tokenizer, prompts, cfg) == first
    assert generate_answers(model, tokenizer, prompts, with_changes(cfg, seed=2)) != first


def test_questions_carry_split_and_sets(tmp_path):
    eval_dir = write_questions(tmp_path / "eval")
    questions = load_questions(eval_dir, ["all"])
    assert [q.question for q in questions] == [q for q, _ in QUESTIONS]
    assert [q.split for q in questions] == [s for _, s in QUESTIONS]
    assert questions[0].sets == ("all", "inner_comparison", "split-0-7")
    inner = load_questions(eval_dir, ["inner_comparison"])
    assert [q.id for q in inner] == [question_id(i) for i in INNER]
    assert len(load_questions(eval_dir, ["all"], max_questions=3)) == 3


def test_final_model_and_checkpoints_answer_their_sets(tmp_path, params, repo_root):
    model_dir = save_tuned_model(tmp_path / "instruct", "llama-leaner-s65-leaner", steps=(20, 10))
    eval_dir = write_questions(tmp_path / "eval")
    assert [step for step, _ in find_checkpoints(model_dir)] == [10, 20]
    cfg = with_changes(params.generate, max_new_tokens=4, batch_size=4)
    result = generate_model(
        model_dir,
        load_questions(eval_dir, ["all"]),
        cfg,
        load_template(repo_root / cfg.template),
        load_questions(eval_dir, ["inner_comparison"]),
    )
    assert len(result.final) == len(QUESTIONS) and sorted(result.checkpoints) == [10, 20]
    assert all(len(records) == len(INNER) for records in result.checkpoints.values())
    record = result.final[0]
    assert set(record) == {"id", "question", "split", "sets", "answer", "tokens", "finish_reason", "empty"}
    assert record["empty"] == (record["answer"] == "")


def test_token_losses_batched_equal_single(tiny_llama):
    model, tokenizer = tiny_llama
    texts = ["the cat made a cake.", "", "a dog saw the house and the old man read the book."]
    batched = mean_token_losses(model, tokenizer, texts, batch_size=3)
    single = [mean_token_losses(model, tokenizer, [t], batch_size=1)[0] for t in texts]
    assert batched[1] == (0.0, 0)
    for (a, n), (b, m) in zip(batched, single, strict=True):
        assert n == m and a == pytest.approx(b, rel=1e-5)
