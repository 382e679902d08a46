"""Two queued DVC experiments started together (`dvc queue start -j 2`) on a fresh store, without
MLFLOW_TRACKING_URI: both finish, and both land in the origin repo's mlflow.db as one parent run each with a
child run per stage (#13.5, #13.6, #18.6). A throwaway two-stage DVC project; minutes (celery workers), so slow.

    pytest -m slow tests/stages/test_queue_tracking.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT

STAGE = """import json, os, sys
import yaml
sys.path.insert(0, {root!r})
from tinyhelen.core.tracking import open_tracker
name, out = sys.argv[1], sys.argv[2]
x = yaml.safe_load(open("params.yaml"))["x"]
with open_tracker(name, {{"x": x}}) as tracker:
    tracker.log_metrics({{"x": x}})
    os.makedirs(os.path.dirname(out), exist_ok=True)
    json.dump({{"x": x}}, open(out, "w"))
"""

DVC_YAML = """stages:
  first:
    cmd: {python} stage.py first out/first.json
    deps: [stage.py]
    params: [x]
    outs: [out/first.json]
  second:
    cmd: {python} stage.py second out/second.json
    deps: [stage.py, out/first.json]
    outs: [out/second.json]
"""


@pytest.mark.slow
def test_two_queued_experiments_log_to_the_origin_store(tmp_path):
    from mlflow import MlflowClient

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "TINYHELEN_INVOCATION", "DVC_ROOT", "DVC_STAGE")
    }
    env.update(TINYHELEN_TRACKING="mlflow", DVC_NO_ANALYTICS="1")

    def run(*args):
        return subprocess.run(
            list(args), cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=300
        ).stdout

    (tmp_path / "stage.py").write_text(STAGE.format(root=str(REPO_ROOT)))
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable))
    (tmp_path / "params.yaml").write_text("x: 1\n")
    (tmp_path / ".gitignore").write_text("mlflow.db\nmlflow.db.lock\nmlartifacts/\n")
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    run("git", "add", "-A")
    run("git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    for name, x in (("exp-two", 2), ("exp-three", 3)):
        run(sys.executable, "-m", "dvc", "exp", "run", "--queue", "-S", f"x={x}", "-n", name)
    run(sys.executable, "-m", "dvc", "queue", "start", "-j", "2")
    deadline = time.time() + 600
    while time.time() < deadline:
        status = run(sys.executable, "-m", "dvc", "queue", "status")
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(5)
    assert status.count("Success") == 2, status

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # the origin repo's store, not a temp copy's
    runs = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    parents = {r.info.run_name: r for r in runs if r.data.tags.get("tinyhelen.parent") == "true"}
    assert set(parents) == {"exp-two", "exp-three"}
    for name, parent in parents.items():
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert sorted(r.info.run_name for r in children) == ["first", "second"]
        assert {r.data.tags["dvc.exp_name"] for r in children} == {name}
        assert parent.info.status == "FINISHED"
