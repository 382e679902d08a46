"""Curriculum arms in the one training loop on a tiny model: growth happens, exports land, resume is exact.

pytest tests/component/curriculum/test_run.py
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.curriculum_inputs import tiny_params, write_curriculum_inputs
from tinyhelen.core.errors import DataError
from tinyhelen.core.tracking import NullLogger
from tinyhelen.curriculum.difficulty import score_difficulty, write_difficulty
from tinyhelen.curriculum.run import run_curriculum

# A threshold this size makes most evaluations count as a plateau, so the pool grows within a few steps.
GROWING = {"threshold": 0.3, "max_steps": 16, "save_every": 4, "export_steps": [8, 16]}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = write_curriculum_inputs(tmp_path_factory.mktemp("curriculum"))
    params = tiny_params(root)
    write_difficulty(
        score_difficulty(params.difficulty, params.sentences, composed_dir=root / "composed"),
        root / "difficulty" / "leaner.jsonl",
        root / "plots",
    )
    return root


def run(strategy, inputs, out, on_step=None, **changes):
    params = tiny_params(inputs, **{**changes, "run_dir": str(out / "runs")})
    return run_curriculum(
        strategy,
        65,
        params.curriculum,
        params.pretrain,
        composed_dir=inputs / "composed",
        tokenizers_dir=inputs / "tokenizers",
        difficulty_path=inputs / "difficulty" / "leaner.jsonl",
        model_dir=out / "models",
        tracker=NullLogger(),
        on_step=on_step,
    )


class Killed(Exception):
    pass


@pytest.mark.parametrize("strategy", ["iter-selfloss", "iter-lmloss"])
def test_resume_in_the_middle_of_a_growth_schedule_is_exact(strategy, inputs, tmp_path):
    whole = run(strategy, inputs, tmp_path / "whole", **GROWING)
    levels = [row["level"] for row in whole.curve]
    assert levels[0] == 1 and levels[-1] > 2  # the pool grew several times during the run

    def kill_at_10(step):
        if step == 10:
            raise Killed

    with pytest.raises(Killed):
        run(strategy, inputs, tmp_path / "cut", on_step=kill_at_10, **GROWING)
    cut_levels = [row["level"] for row in whole.curve if row["step"] <= 8]
    assert cut_levels[-1] > 1  # the checkpoint at step 8 is mid-schedule
    assert not (tmp_path / "cut" / "models").exists()
    resumed = run(strategy, inputs, tmp_path / "cut", **GROWING)
    assert resumed.curve == whole.curve
    assert resumed.train_curve == whole.train_curve
    assert resumed.metrics == whole.metrics
    for step in (8, 16):  # the export of step 8 (before the cut) survives the resume
        assert (tmp_path / "cut" / "models" / f"step-{step}" / "model.safetensors").is_file()
    if strategy == "iter-selfloss":
        assert whole.metrics["scoring_tokens"] == whole.metrics["growth_steps"] * whole.metrics["pool_tokens"]


def test_every_arm_trains_and_reports_its_data_share(inputs, tmp_path):
    from transformers import AutoModelForCausalLM

    shares = {}
    for strategy in ("full-repeated", "full-random", "iter-random", "iter-sentlen"):
        result = run(strategy, inputs, tmp_path / strategy, threshold=0.3, max_steps=8, export_steps=[8])
        assert result.metrics["val/loss"] < result.curve[0]["loss"] + 1.0
        shares[strategy] = [row["share"] for row in result.curve]
        model = AutoModelForCausalLM.from_pretrained(str(tmp_path / strategy / "models" / "step-8"))
        assert model.config.hidden_size == 16
    assert set(shares["full-repeated"]) == {1.0} and set(shares["full-random"]) == {1.0}
    assert shares["iter-random"][0] == shares["iter-sentlen"][0] == 0.05
    assert all(b >= a for a, b in zip(shares["iter-sentlen"], shares["iter-sentlen"][1:], strict=False))


def test_documents_without_a_score_are_named(inputs, tmp_path):
    bad = tmp_path / "difficulty.jsonl"
    lines = (inputs / "difficulty" / "leaner.jsonl").read_text().splitlines()
    bad.write_text("\n".join(lines[1:]) + "\n")
    params = tiny_params(inputs, run_dir=str(tmp_path / "runs"))
    with pytest.raises(DataError, match="1 training document.*no score"):
        run_curriculum(
            "iter-lmloss",
            65,
            params.curriculum,
            params.pretrain,
            composed_dir=inputs / "composed",
            tokenizers_dir=inputs / "tokenizers",
            difficulty_path=bad,
            model_dir=tmp_path / "m",
            tracker=NullLogger(),
        )
