"""`dvc repro` and `dvc exp run` in a temporary copy of the repo, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _project_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line and (REPO_ROOT / line).is_file()]


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """The project's files (tracked and untracked-but-not-ignored) in a fresh git repo."""
    root = tmp_path_factory.mktemp("repo")
    for name in _project_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=root, check=True)
    return root


def _dvc(root: Path, *args: str, tracking_uri: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": tracking_uri, "TINYHELEN_TRACKING": "mlflow", "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)


def test_dvc_repro_ingest_then_bad_overrides(repo_copy, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = _dvc(repo_copy, "repro", "ingest", tracking_uri=uri)
    assert result.returncode == 0, result.stdout + result.stderr
    metrics = json.loads((repo_copy / "metrics" / "ingest.json").read_text())
    assert metrics["corpus"]["leaner"]["train"]["web"]["documents"] > 0
    assert (repo_copy / "dvc.lock").exists() and (repo_copy / "data" / "raw" / "meta.json").exists()

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tinyhelen")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("tinyhelen.parent") == "true"]  # this `dvc repro`
    (run,) = [r for r in runs if r is not parent]
    assert parent.info.run_name.startswith("repro-") and parent.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.run_name == "ingest"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["tinyhelen.stage"] == "ingest"
    assert run.data.tags["git.rev"] != "unknown"
    assert run.data.params["data.source"] == "sample"

    # a second repro is a no-op
    again = _dvc(repo_copy, "repro", "ingest", tracking_uri=uri)
    assert again.returncode == 0 and "didn't change" in again.stdout + again.stderr

    # DVC itself refuses to override a key params.yaml lacks; with `+key=value` it adds the key and our
    # validation refuses it before any work. Either way the message names the key.
    for override, key in (("ingest.nosuch=1", "ingest.nosuch"),
                          ("+ingest.nosuch=1", "unknown key 'ingest.nosuch' (value: 1)"),
                          ("seed=abc", "invalid value for 'seed'")):
        bad = _dvc(repo_copy, "exp", "run", "-S", override, tracking_uri=uri)
        assert bad.returncode != 0, override
        assert key in bad.stdout + bad.stderr, bad.stdout + bad.stderr
        subprocess.run(["git", "checkout", "-q", "params.yaml"], cwd=repo_copy, check=True)
