"""Tracking: the store is created once under a lock (#13.5), runs in a DVC experiment's temporary copy log to
the origin repo's store (#13.6), and the stages of one pipeline invocation share one parent run (#18.6)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tinyhelen.core.tracking import (
    EXPERIMENT_KIND,
    INVOCATION_TAG,
    PARENT_TAG,
    default_tracking_uri,
    invocation_id,
    open_tracker,
    origin_repo_root,
)


def test_origin_repo_root_sees_through_a_dvc_temp_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    copy.mkdir(parents=True)
    assert origin_repo_root(copy) == tmp_path / "repo"
    assert origin_repo_root(tmp_path) == tmp_path
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))
    assert origin_repo_root(copy) == tmp_path / "elsewhere"


def test_run_in_a_temp_experiment_copy_logs_to_the_origin_store(tmp_path, monkeypatch):
    """A queued experiment runs in <repo>/.dvc/tmp/exps/<copy>; without MLFLOW_TRACKING_URI its runs must reach
    <repo>/mlflow.db (found from DVC_ROOT, or from the copy's path), not a store inside the copy that DVC
    deletes afterwards."""
    from mlflow import MlflowClient

    origin = tmp_path / "repo"
    copy = origin / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("TINYHELEN_TRACKING", "mlflow")
    for name, dvc_root in (("with-dvc-root", str(origin)), ("without", None)):
        monkeypatch.setenv("DVC_EXP_NAME", name)
        if dvc_root:
            monkeypatch.setenv("DVC_ROOT", dvc_root)  # what DVC sets for a queued experiment's stages
        else:
            monkeypatch.delenv("DVC_ROOT", raising=False)
        assert default_tracking_uri() == f"sqlite:///{origin / 'mlflow.db'}"
        with open_tracker("ingest", {"seed": 65}) as tracker:
            tracker.log_metrics({"documents": 3})
    assert not (copy / "mlflow.db").exists() and (origin / "mlflow.db").exists()
    client = MlflowClient(f"sqlite:///{origin / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tinyhelen")
    assert experiment.tags["mlflow.experimentKind"] == EXPERIMENT_KIND["mlflow.experimentKind"]
    assert experiment.artifact_location == (origin / "mlartifacts").as_uri()  # not ./mlruns of the copy
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.data.tags["dvc.exp_name"] for run in runs) == ["with-dvc-root", "without"]
    assert all(run.data.metrics["documents"] == 3 for run in runs)


def _log_one_run(uri: str, name: str, barrier) -> None:
    os.environ.update(MLFLOW_TRACKING_URI=uri, TINYHELEN_TRACKING="mlflow", DVC_EXP_NAME=name)
    os.environ.pop("TINYHELEN_INVOCATION", None)
    os.environ.pop("DVC_STAGE", None)
    barrier.wait()  # both processes open the fresh store at the same moment
    with open_tracker("ingest", {"seed": 65}) as tracker:
        tracker.log_metrics({"documents": 1})


def test_two_processes_on_a_fresh_store_both_log(tmp_path):
    """Two queued experiments starting together on a new sqlite store: both runs land, neither hits an alembic
    migration error (the store is created and migrated once, under `<store>.lock`)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_log_one_run, args=(uri, f"exp-{n}", barrier)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0, 0]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    assert sorted(run.data.tags["dvc.exp_name"] for run in runs) == ["exp-0", "exp-1"]
    assert {run.info.status for run in runs} == {"FINISHED"}


_FAKE_DVC = """import os, subprocess, sys
env = dict(os.environ, DVC_STAGE=sys.argv[1])
code = "from tinyhelen.core.tracking import invocation_id; print(invocation_id())"
for _ in range(2):  # two stages of one invocation, each through a shell as DVC runs them
    subprocess.run(["/bin/sh", "-c", f"{sys.executable} -c '{code}'"], env=env, check=True)
print("pid", os.getpid())
"""


def test_stages_of_one_dvc_invocation_share_an_id(tmp_path, monkeypatch):
    """The stages of one `dvc ...` process get the same invocation id (its pid and start time); another
    invocation gets another; outside DVC there is none."""
    monkeypatch.delenv("TINYHELEN_INVOCATION", raising=False)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert invocation_id() is None
    fake = tmp_path / "bin" / "dvc"  # argv: python .../bin/dvc, as a venv's dvc script runs
    fake.parent.mkdir()
    fake.write_text(_FAKE_DVC)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    outputs = [
        subprocess.run(
            [sys.executable, str(fake), "ingest"], env=env, capture_output=True, text=True, check=True
        ).stdout.split("\n")
        for _ in range(2)
    ]
    for first, second, pid, _ in outputs:
        assert first == second and first.split(":")[1] == pid.split()[1]
    assert outputs[0][0] != outputs[1][0]
    monkeypatch.setenv("TINYHELEN_INVOCATION", "by-hand")
    assert invocation_id() == "by-hand"


def test_one_parent_per_invocation_and_a_failed_stage_fails_it(mlflow_store, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.chdir(REPO_ROOT)  # the stages' working directory: the parent logs its params.yaml
    monkeypatch.setenv("DVC_EXP_NAME", "bushy-lamb")
    for invocation in ("inv-1", "inv-2"):
        monkeypatch.setenv("TINYHELEN_INVOCATION", invocation)
        with open_tracker("ingest", {"seed": 65}):
            pass
        with open_tracker("pretrain", {"seed": 65}, run_name="pretrain@llama-leaner-s65") as tracker:
            tracker.child("inner").close()
    monkeypatch.delenv("DVC_EXP_NAME")  # a plain `dvc repro` whose second stage fails
    monkeypatch.setenv("TINYHELEN_INVOCATION", "inv-fail")
    with open_tracker("ingest", {"seed": 65}):
        pass
    with pytest.raises(RuntimeError), open_tracker("clean", {"seed": 65}):
        raise RuntimeError("boom")

    client = MlflowClient(mlflow_store)
    experiment_id = client.get_experiment_by_name("tinyhelen").experiment_id
    runs = client.search_runs([experiment_id], filter_string="tags.`dvc.exp_name` = 'bushy-lamb'")
    parents = [r for r in runs if r.data.tags.get(PARENT_TAG) == "true"]
    assert sorted(p.data.tags[INVOCATION_TAG] for p in parents) == ["inv-1", "inv-2"]
    for parent in parents:
        assert parent.info.run_name == "bushy-lamb" and parent.info.status == "FINISHED"
        assert parent.data.params["pretrain.max_steps"] == "16"  # the invocation's params.yaml
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == ["ingest", "pretrain@llama-leaner-s65"]
        (pretrain,) = [r for r in children if r.info.run_name.startswith("pretrain")]
        (inner,) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == pretrain.info.run_id]
        assert inner.info.run_name == "inner"
    assert len(runs) == 8  # 2 x (parent + 2 stages + 1 nested), every one tagged with the experiment
    assert all(r.data.tags[INVOCATION_TAG] in ("inv-1", "inv-2") for r in runs)
    repro = client.search_runs([experiment_id], filter_string=f"tags.`{INVOCATION_TAG}` = 'inv-fail'")
    (failed,) = [r for r in repro if r.data.tags.get(PARENT_TAG) == "true"]
    assert failed.info.status == "FAILED" and failed.info.run_name.startswith("repro-")
    assert sorted(r.info.run_name for r in repro) == ["clean", "ingest", failed.info.run_name]
