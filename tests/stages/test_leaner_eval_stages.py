"""The generate and judge stages on tiny tuned models: offline (judge.backend none) and with the fake judge."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.leaner_eval import INNER, QUESTIONS, save_tuned_model, write_questions

NAMES = ["llama-leaner-s65-leaner", "llama-ori-s65-leaner"]


@pytest.fixture
def workspace(tmp_path, repo_root, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder in ("prompts/instruct", "prompts/judge"):
        (tmp_path / folder).mkdir(parents=True)
        for path in (repo_root / folder).iterdir():
            (tmp_path / folder / path.name).write_text(path.read_text())
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["generate"].update(max_new_tokens=6, batch_size=4)
    params["judge"].update(bootstrap_samples=100)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    write_questions(tmp_path / "data/raw/eval")
    (tmp_path / "data/vocab").mkdir(parents=True)
    (tmp_path / "data/vocab/word_list.txt").write_text("the\ncat\na\ndog\n")
    for seed, name in enumerate(NAMES):
        save_tuned_model(tmp_path / "models/instruct", name, steps=(5, 10), seed=seed)
    save_tuned_model(tmp_path / "models", "llama-leaner-s65", seed=9)
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
    return tmp_path


def _run(workspace, backend):
    from stages import generate, judge

    for name in NAMES:
        generate.main(["--model", f"models/instruct/{name}"])
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["judge"]["backend"] = backend
    (workspace / "params.yaml").write_text(yaml.safe_dump(params))
    judge.main([*NAMES, "--reference", "models/llama-leaner-s65"])
    return json.loads((workspace / "metrics/leaner_eval.json").read_text())


@pytest.mark.slow
def test_offline_judge_free_table(workspace):
    metrics = _run(workspace, "none")
    for name in NAMES:
        lines = (workspace / f"results/generations/{name}.jsonl").read_text().splitlines()
        assert len(lines) == len(QUESTIONS)
        assert sorted(p.name for p in (workspace / f"results/generations/{name}").iterdir()) == [
            "meta.json",
            "step-10.jsonl",
            "step-5.jsonl",
        ]
        assert len((workspace / f"results/generations/{name}/step-5.jsonl").read_text().splitlines()) == len(INNER)
        assert json.loads((workspace / f"metrics/generate/{name}.json").read_text())["questions"] == len(QUESTIONS)
    assert metrics["judge"] == {"backend": "none"} and metrics["inter"] == {}
    assert set(metrics["judge_free"]) == set(NAMES)
    assert metrics["judge_free"][NAMES[0]]["reference_perplexity"] > 1
    low, high = metrics["judge_free"][NAMES[0]]["reference_perplexity_ci95"]
    assert low <= metrics["judge_free"][NAMES[0]]["reference_perplexity"] <= high
    # the one leaner/ori pair of the names (instruction variant leaner), compared over the same questions
    (pair,) = metrics["judge_free_diff"].values()
    assert (pair["leaner"], pair["ori"], pair["questions"]) == (*NAMES, len(QUESTIONS))
    assert pair["answer_words"]["diff"] == pytest.approx(
        metrics["judge_free"][NAMES[0]]["answer_words"] - metrics["judge_free"][NAMES[1]]["answer_words"], abs=2e-4
    )
    assert (workspace / "results/leaner_eval/plot.png").stat().st_size > 0
    assert "Judge-free metrics" in (workspace / "results/leaner_eval/table.md").read_text()


@pytest.mark.slow
def test_judged_run_and_a_rerun_that_asks_nothing(workspace, monkeypatch):
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        metrics = _run(workspace, "llm")
        asked = len(server.prompts)
        table = (workspace / "results/leaner_eval/table.md").read_text()
        from stages import judge

        judge.main([*NAMES, "--reference", "models/llama-leaner-s65"])
        assert len(server.prompts) == asked > 0
    assert set(metrics["selected"]) == set(NAMES) and set(metrics["inter"]) == set(metrics["selected"].values())
    assert (workspace / "results/leaner_eval/table.md").read_text() == table
    scores = [json.loads(line) for line in (workspace / "results/leaner_eval/scores.jsonl").read_text().splitlines()]
    assert {s["comparison"] for s in scores} == {"inner", "inter"}
