"""Stages `glue` and `glue_summary` end to end on the bundled sample's Leaner-GLUE files (normalised as ingest
does), with tiny random models in a temporary models/ folder (tests/fixtures/glue_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stages import glue as glue_stage
from stages import glue_summary as summary_stage
from tinyhelen.io import iter_jsonl, write_jsonl
from tinyhelen.release import GLUE_SPLITS, normalise_glue

from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import save_model, train_tokenizer

SAMPLE_GLUE = REPO_ROOT / "data" / "sample" / "leaner" / "glue"


def _ingest_sample_glue(out: Path, drop: tuple[str, ...] = ()) -> Path:
    for task, splits in GLUE_SPLITS.items():
        for split in splits:
            path = SAMPLE_GLUE / f"{task}_{split}.jsonl"
            if f"{task}_{split}" in drop:
                continue
            write_jsonl(out / path.name, (normalise_glue(r, task=task, split=split, origin=f"{path}:{n}")
                                          for n, r in iter_jsonl(path)))
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("glue-stage")
    save_model(root / "models", "llama", "leaner", train_tokenizer("causal"))
    save_model(root / "models", "xlnet", "ori", train_tokenizer("xlnet"))
    # the sample without sst2 train, as in the shared release
    return root, _ingest_sample_glue(root / "raw" / "glue", drop=("sst2_train",))


def _glue(root: Path, glue_dir: Path, name: str, model: str, *extra: str) -> dict:
    metrics = root / "metrics" / "glue" / f"{name}.json"
    glue_stage.main(["--model", str(root / "models" / model), "--name", name, "--glue", str(glue_dir),
                     "--out", str(root / "results" / "glue" / name), "--metrics", str(metrics), *extra])
    return json.loads(metrics.read_text())


def test_glue_and_summary_on_the_sample(workspace, mlflow_store, monkeypatch):
    root, glue_dir = workspace
    monkeypatch.setenv("DVC_EXP_NAME", "glue-exp")
    monkeypatch.setenv("TINYHELEN_INVOCATION", "one-dvc-exp-run")  # as the stages of one `dvc exp run` get
    leaner = _glue(root, glue_dir, "llama-leaner", "llama-leaner")
    scratch = _glue(root, glue_dir, "llama-scratch", "llama-leaner", "--scratch")
    xlnet = _glue(root, glue_dir, "xlnet-ori", "xlnet-ori")
    for metrics in (leaner, scratch, xlnet):
        assert metrics["tasks"]["sst2"] == {"status": "skipped",
                                            "reason": f"missing sst2_train.jsonl in {glue_dir}"}
        assert "wnli" not in metrics["tasks"]  # off by default, as in the paper
        for task in ("cola", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"):
            assert metrics["tasks"][task]["status"] == "done" and metrics["tasks"][task]["best_lr"] == 1e-3
        assert set(metrics["scores"]) == {"cola", "mrpc", "qqp", "stsb", "mnli-m", "mnli-mm", "qnli", "rte"}
        assert set(metrics["scores"]["mrpc"]["test"]) == {"accuracy", "f1", "score"}
        assert metrics["average"]["tasks"] == 7 and -1 <= metrics["average"]["test"] <= 1
    runs = list(iter_jsonl(root / "results" / "glue" / "llama-scratch" / "runs.jsonl"))
    assert len(runs) == 7 and all(r["steps"] == 6 for _, r in runs)  # 1 LR x 1 seed, max_steps 6
    meta = json.loads((root / "results" / "glue" / "llama-scratch" / "meta.json").read_text())
    assert meta["init"] == "scratch" and meta["added_pair_separator"] is True
    assert not any(name.endswith(".safetensors") for name in meta["inputs"])  # a baseline reads no weights

    summary_path, out = root / "metrics" / "glue_summary.json", root / "results" / "glue_summary"
    summary_stage.main([*map(str, sorted((root / "metrics" / "glue").glob("*.json"))),
                        "--summary", str(summary_path), "--out", str(out)])
    summary = json.loads(summary_path.read_text())
    assert list(summary["models"]) == ["llama-scratch", "llama-leaner", "xlnet-ori"]
    assert summary["models"]["xlnet-ori"]["skipped"] == ["sst2"]
    table = (out / "table.md").read_text().splitlines()
    assert table[0] == "| Model | CoLA | MRPC | QQP | STS-B | MNLI-m | MNLI-mm | QNLI | RTE | Avg |"
    assert table[2].startswith("| Llama (from scratch) |") and table[4].startswith("| XLNet (ori) |")
    assert (out / "meta.json").exists()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    names = {run.info.run_name: run for run in runs}
    assert {"glue@llama-leaner", "glue@llama-scratch", "glue@xlnet-ori", "glue_summary"} <= set(names)
    run = names["glue@llama-scratch"]
    assert run.data.tags["glue.init"] == "scratch" and "average.test" in run.data.metrics
    assert run.data.params["glue.max_steps"] == "6"

    # the run tree: one parent for the invocation, a child per stage run, the LR x seed runs below their stage
    tree = client.search_runs([run.info.experiment_id], filter_string="tags.`dvc.exp_name` = 'glue-exp'")
    assert len(tree) == len(runs)  # the whole tree carries the experiment's name
    (parent,) = [r for r in runs if r.data.tags.get("tinyhelen.parent") == "true"]
    assert parent.info.run_name == "glue-exp" and parent.info.status == "FINISHED"
    stage_runs = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(stage_runs) == {"glue@llama-leaner", "glue@llama-scratch", "glue@xlnet-ori", "glue_summary"}
    for name, stage_run in stage_runs.items():
        nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == stage_run.info.run_id]
        expected = set() if name == "glue_summary" else {
            f"{task}/lr0.001/seed1" for task in ("cola", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte")}
        assert {r.info.run_name for r in nested} == expected
        for grid_run in nested:
            assert grid_run.info.status == "FINISHED" and grid_run.data.params["learning_rate"] == "0.001"
            assert "val/score" in grid_run.data.metrics and "test.score.score" not in stage_run.data.metrics
            assert not any(key.startswith(grid_run.info.run_name) for key in stage_run.data.metrics)
    assert len(runs) == 1 + 4 + 3 * 7
    card = [a.path for a in client.list_artifacts(stage_runs["glue@llama-leaner"].info.run_id, "model_card")]
    assert card == ["model_card/README.md"]


def test_missing_model_fails_cleanly_without_outputs(workspace, tmp_path):
    _, glue_dir = workspace
    metrics = tmp_path / "m.json"
    with pytest.raises(SystemExit) as exit_info:
        from tinyhelen.log import run_cli

        run_cli(glue_stage.main, ["--model", str(tmp_path / "nope"), "--name", "llama-leaner", "--glue",
                                  str(glue_dir), "--out", str(tmp_path / "out"), "--metrics", str(metrics)])
    assert exit_info.value.code == 2
    assert not metrics.exists() and not (tmp_path / "out").exists()
