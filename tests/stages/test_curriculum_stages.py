"""Stages difficulty -> curriculum (every strategy) -> curriculum_summary on a tiny fixture, through their CLIs.

pytest tests/stages/test_curriculum_stages.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stages import curriculum, curriculum_summary, difficulty
from tests.fixtures.curriculum_inputs import tiny_params, write_curriculum_inputs
from tinyhelen.core.errors import DataError
from tinyhelen.curriculum.config import STRATEGIES


def test_difficulty_then_every_arm_then_the_summary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = write_curriculum_inputs(tmp_path / "inputs")
    params = tiny_params(root, max_steps=8, eval_every=2, threshold=0.3, export_steps=[4, 8, 500])
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(params.model_dump(mode="json")))
    common = ["--params", str(params_path)]

    difficulty.main(
        [
            "--composed",
            str(root / "composed"),
            "--out",
            "data/difficulty",
            "--plots",
            "results/difficulty",
            "--metrics",
            "metrics/difficulty",
            *common,
        ]
    )
    records = [json.loads(line) for line in Path("data/difficulty/leaner.jsonl").read_text().splitlines()]
    train_ids = [json.loads(line)["id"] for line in (root / "composed/leaner/train.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == train_ids
    assert all(r["loss"] > 0 and r["words_per_sentence"] > 0 and r["predicted"] < r["tokens"] for r in records)
    assert Path("results/difficulty/leaner/loss_histogram.png").stat().st_size > 1000
    metrics = json.loads(Path("metrics/difficulty/leaner.json").read_text())
    assert metrics["documents"] == len(records) and set(metrics["genres"]) == {"web", "wiki"}

    arms = [(s, 1) for s in STRATEGIES] + [("full-random", 2), ("iter-lmloss", 2)]
    for strategy, seed in arms:
        curriculum.main(
            [
                "--strategy",
                strategy,
                "--seed",
                str(seed),
                "--composed",
                str(root / "composed"),
                "--tokenizers",
                str(root / "tokenizers"),
                *common,
            ]
        )
    for strategy, seed in arms:
        name = f"{strategy}-s{seed}"
        assert sorted(p.name for p in Path("models/curriculum", name).iterdir()) == ["step-4", "step-8"]
        run = json.loads(Path("metrics/curriculum/arms", f"{name}.json").read_text())
        assert run["steps"] == 8 and run["tokens_seen"] == 8 * 4 * 32
        assert "wall_time_s" not in run and "tokens_per_s" not in run  # nothing machine-dependent

    curriculum_summary.main(common)
    summary = json.loads(Path("metrics/curriculum.json").read_text())
    assert list(summary["final_loss"]) == list(STRATEGIES)
    assert summary["seeds"] == [1, 2]
    control = summary["targets"]["full-random"]["1.0"]
    assert control["reached"] == 2 and control["steps_saved_pct"]["mean"] == 0.0
    assert summary["targets"]["iter-lmloss"]["1.0"]["seeds"] == 2
    table = Path("results/curriculum/summary/table.md").read_text()
    assert all(f"| {s} |" in table for s in STRATEGIES)
    for png in ("loss_vs_tokens.png", "data_share.png", "difficulty.png"):
        assert Path("results/curriculum/summary", png).stat().st_size > 1000


def test_summary_without_the_control_is_refused(tmp_path):
    from tinyhelen.curriculum.summary import read_runs

    arm = tmp_path / "arms" / "iter-random-s1"
    arm.mkdir(parents=True)
    (arm / "run.json").write_text(json.dumps({"strategy": "iter-random", "seed": 1, "max_steps": 2}))
    (arm / "curve.csv").write_text(
        "step,tokens,loss,accuracy,level,documents,share,seen_share,scoring_tokens,grew\n"
        "2,64,5.0,0.1,1,2,0.05,0.05,0,0\n"
    )
    with pytest.raises(DataError, match="no full-random run"):
        read_runs(tmp_path / "arms")
