"""Stages `glue` and `glue_summary` end to end on the bundled sample's Leaner-GLUE files (normalised as ingest
does), with tiny random models in a temporary models/ folder (tests/fixtures/glue_models.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stages import glue as glue_stage
from stages import glue_summary as summary_stage
from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import save_model, train_tokenizer
from tinyhelen.core.io import iter_jsonl, write_jsonl
from tinyhelen.core.release import GLUE_SPLITS, normalise_glue

SAMPLE_GLUE = REPO_ROOT / "data" / "sample" / "leaner" / "glue"


def _ingest_sample_glue(out: Path, drop: tuple[str, ...] = ()) -> Path:
    for task, splits in GLUE_SPLITS.items():
        for split in splits:
            path = SAMPLE_GLUE / f"{task}_{split}.jsonl"
            if f"{task}_{split}" in drop:
                continue
            write_jsonl(
                out / path.name,
                (normalise_glue(r, task=task, split=split, origin=f"{path}:{n}") for n, r in iter_jsonl(path)),
            )
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("glue-stage")
    causal = train_tokenizer("causal")
    save_model(root / "models", "llama", "leaner", causal, seed=65)
    save_model(root / "models", "llama", "ori", causal, seed=65)
    save_model(root / "models", "xlnet", "ori", train_tokenizer("xlnet"), seed=65)
    # the sample without sst2 train, as in the shared release
    return root, _ingest_sample_glue(root / "raw" / "glue", drop=("sst2_train",))


def _glue(root: Path, glue_dir: Path, name: str, model: str, *extra: str) -> dict:
    metrics = root / "metrics" / "glue" / f"{name}.json"
    glue_stage.main(
        [
            "--model",
            str(root / "models" / model),
            "--name",
            name,
            "--glue",
            str(glue_dir),
            "--out",
            str(root / "results" / "glue" / name),
            "--metrics",
            str(metrics),
            *extra,
        ]
    )
    headline = json.loads(metrics.read_text())  # the DVC metrics: headline numbers only
    full = json.loads((root / "results" / "glue" / name / "metrics.json").read_text())
    assert headline["average"] == full["average"] and headline["model"] == full["model"] == name
    assert "tasks" not in headline and "time" not in full  # timings go to MLflow, never into outputs
    return full


def _params(tmp: Path, **sections) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for section, values in sections.items():
        raw[section].update(values)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_glue_and_summary_on_the_sample(workspace, mlflow_store, monkeypatch):
    root, glue_dir = workspace
    monkeypatch.setenv("DVC_EXP_NAME", "glue-exp")
    monkeypatch.setenv("TINYHELEN_INVOCATION", "one-dvc-exp-run")  # as the stages of one `dvc exp run` get
    leaner = _glue(root, glue_dir, "llama-leaner-s65", "llama-leaner-s65")
    ori = _glue(root, glue_dir, "llama-ori-s65", "llama-ori-s65")
    scratch = _glue(root, glue_dir, "llama-scratch-s65", "llama-leaner-s65", "--scratch")
    xlnet = _glue(root, glue_dir, "xlnet-ori-s65", "xlnet-ori-s65")
    assert (leaner["arch"], leaner["init"], leaner["seed"], leaner["step"]) == ("llama", "leaner", 65, "final")
    assert (scratch["init"], scratch["seed"]) == ("scratch", 65)
    for metrics in (leaner, ori, scratch, xlnet):
        assert metrics["tasks"]["sst2"] == {"status": "skipped", "reason": f"missing sst2_train.jsonl in {glue_dir}"}
        assert "wnli" not in metrics["tasks"]  # off by default, as in the paper
        for task in ("cola", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"):
            assert metrics["tasks"][task]["status"] == "done" and metrics["tasks"][task]["best_lr"] == 1e-3
        assert set(metrics["scores"]) == {"cola", "mrpc", "qqp", "stsb", "mnli-m", "mnli-mm", "qnli", "rte"}
        assert set(metrics["scores"]["mrpc"]["test"]) == {"accuracy", "f1", "score"}
        assert metrics["average"]["tasks"] == 7 and -1 <= metrics["average"]["test"] <= 1
    runs = list(iter_jsonl(root / "results" / "glue" / "llama-scratch-s65" / "runs.jsonl"))
    assert len(runs) == 7 and all(r["steps"] == 6 for _, r in runs)  # 1 LR x 1 seed, max_steps 6
    meta = json.loads((root / "results" / "glue" / "llama-scratch-s65" / "meta.json").read_text())
    assert meta["init"] == "scratch" and meta["added_pair_separator"] is True and meta["init_seed"] == 65
    assert not any(name.endswith(".safetensors") for name in meta["inputs"])  # a baseline reads no weights

    # the summary reads the models params name (llama x {leaner, ori} x seed 65, plus its baseline), not the
    # xlnet file that also sits in the folder
    summary_path, out = root / "metrics" / "glue_summary.json", root / "results" / "glue_summary"
    params = _params(root, pretrain={"archs": ["llama"], "seeds": [65]})
    summary_stage.main(
        [
            "--results",
            str(root / "results" / "glue"),
            "--summary",
            str(summary_path),
            "--out",
            str(out),
            "--params",
            str(params),
        ]
    )
    assert set(json.loads(summary_path.read_text())) == {"groups", "differences"}  # headlines
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["groups"]) == ["llama-scratch", "llama-ori", "llama-leaner"]
    group = summary["groups"]["llama-leaner"]
    assert group["seeds"] == [65] and group["average"]["std"] is None and group["average"]["ci95"] is None
    assert group["average"]["mean"] == pytest.approx(leaner["average"]["test"], abs=1e-6)
    difference = summary["differences"]["llama"]["average"]
    assert difference["n"] == 1 and difference["ci95"] is None
    assert difference["mean"] == pytest.approx(leaner["average"]["test"] - ori["average"]["test"], abs=1e-6)
    table = (out / "table.md").read_text()
    lines = table.splitlines()
    assert lines[0] == ("| Model | n | CoLA | MRPC | QQP | STS-B | MNLI-m | MNLI-mm | QNLI | RTE | Avg | Avg 95% CI |")
    assert lines[2].startswith("| Llama (from scratch) | 1 |") and lines[2].endswith("| n=1: none |")
    assert "Paired difference leaner − ori" in table and "| Llama | 1 |" in table
    assert set(json.loads((out / "models.json").read_text())) == {
        "llama-scratch-s65",
        "llama-ori-s65",
        "llama-leaner-s65",
    }
    assert (out / "meta.json").exists()

    # a model params name without a metrics file is an error, not a silent gap
    two_seeds = _params(root / "results", pretrain={"archs": ["llama"], "seeds": [65, 66]})
    from tinyhelen.core.errors import DataError

    with pytest.raises(
        DataError,
        match=r"no GLUE metrics for \['llama-scratch-s66', 'llama-leaner-s66', "
        r"'llama-ori-s66'\]",
    ):
        summary_stage.main(
            [
                "--results",
                str(root / "results" / "glue"),
                "--summary",
                str(summary_path),
                "--out",
                str(out),
                "--params",
                str(two_seeds),
            ]
        )
    # a metrics file of another checkpoint than params ask for is stale
    stepped = _params(root / "metrics", pretrain={"archs": ["llama"], "seeds": [65]}, glue={"step": 1000})
    with pytest.raises(DataError, match=r"llama-leaner-s65/metrics.json: scores step final, params ask for 1000"):
        summary_stage.main(
            [
                "--results",
                str(root / "results" / "glue"),
                "--summary",
                str(summary_path),
                "--out",
                str(out),
                "--params",
                str(stepped),
            ]
        )

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    names = {run.info.run_name: run for run in runs}
    assert {"glue@llama-leaner-s65", "glue@llama-scratch-s65", "glue@xlnet-ori-s65", "glue_summary"} <= set(names)
    run = names["glue@llama-scratch-s65"]
    assert run.data.tags["glue.init"] == "scratch" and "average.test" in run.data.metrics
    assert run.data.params["glue.max_steps"] == "6"

    # the run tree: one parent for the invocation, a child per stage run, the LR x seed runs below their stage
    tree = client.search_runs([run.info.experiment_id], filter_string="tags.`dvc.exp_name` = 'glue-exp'")
    assert len(tree) == len(runs)  # the whole tree carries the experiment's name
    (parent,) = [r for r in runs if r.data.tags.get("tinyhelen.parent") == "true"]
    # two glue_summary runs above fail on purpose, and a failed stage fails its invocation's parent run
    assert parent.info.run_name == "glue-exp" and parent.info.status == "FAILED"
    stage_runs = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert set(stage_runs) == {
        "glue@llama-leaner-s65",
        "glue@llama-ori-s65",
        "glue@llama-scratch-s65",
        "glue@xlnet-ori-s65",
        "glue_summary",
    }
    for name, stage_run in stage_runs.items():
        nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == stage_run.info.run_id]
        expected = (
            set()
            if name == "glue_summary"
            else {f"{task}/lr0.001/seed1" for task in ("cola", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte")}
        )
        assert {r.info.run_name for r in nested} == expected
        for grid_run in nested:
            assert grid_run.info.status == "FINISHED" and grid_run.data.params["learning_rate"] == "0.001"
            assert "val/score" in grid_run.data.metrics and "test.score.score" not in stage_run.data.metrics
            assert not any(key.startswith(grid_run.info.run_name) for key in stage_run.data.metrics)
    assert len(runs) == 1 + 4 + 3 + 4 * 7  # parent, 4 glue runs, 3 glue_summary runs, 7 tasks per glue run
    card = [a.path for a in client.list_artifacts(stage_runs["glue@llama-leaner-s65"].info.run_id, "model_card")]
    assert card == ["model_card/README.md"]


def test_missing_model_fails_cleanly_without_outputs(workspace, tmp_path):
    _, glue_dir = workspace
    metrics = tmp_path / "m.json"
    with pytest.raises(SystemExit) as exit_info:
        from tinyhelen.core.log import run_cli

        run_cli(
            glue_stage.main,
            [
                "--model",
                str(tmp_path / "nope"),
                "--name",
                "llama-leaner-s65",
                "--glue",
                str(glue_dir),
                "--out",
                str(tmp_path / "out"),
                "--metrics",
                str(metrics),
            ],
        )
    assert exit_info.value.code == 2
    assert not metrics.exists() and not (tmp_path / "out").exists()


def test_exported_step_and_constructed_glue(workspace, tmp_path):
    import shutil

    root, glue_dir = workspace
    model = tmp_path / "models" / "llama-leaner-s65"
    shutil.copytree(root / "models" / "llama-leaner-s65", model)
    shutil.copytree(model, model / "step-4")  # as pretrain.export_steps [4] would leave it
    constructed = tmp_path / "leaner_glue"
    constructed.mkdir()
    for path in glue_dir.glob("rte_*.jsonl"):
        shutil.copy(path, constructed / path.name)
    params = _params(tmp_path, glue={"tasks": ["rte"], "step": 4, "source": "constructed"})
    metrics = tmp_path / "metrics.json"
    args = [
        "--model",
        str(model),
        "--name",
        "llama-leaner-s65",
        "--glue",
        str(tmp_path / "no-release"),
        "--constructed",
        str(constructed),
        "--out",
        str(tmp_path / "out"),
        "--metrics",
        str(metrics),
        "--params",
        str(params),
    ]
    glue_stage.main(args)
    scored = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert scored["step"] == 4 and scored["tasks"]["rte"]["status"] == "done"
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["model_dir"].endswith("step-4") and meta["glue_dir"] == str(constructed)
    assert all("step-4" in path or "leaner_glue" in path for path in meta["inputs"])

    from tinyhelen.core.errors import ConfigError

    missing_step = _params(tmp_path / "out", glue={"tasks": ["rte"], "step": 8, "source": "constructed"})
    with pytest.raises(ConfigError, match="step-8: no exported step 8"):
        glue_stage.main([*args[:-1], str(missing_step)])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="glue.source is 'constructed' but there are no Leaner-GLUE task files"):
        glue_stage.main(
            ["--model", str(model), "--name", "llama-leaner-s65", "--constructed", str(empty), "--params", str(params)]
        )
