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
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
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
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TINYHELEN_TRACKING": "mlflow",
        "DVC_NO_ANALYTICS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True, text=True, timeout=600
    )


def test_dvc_repro_ingest_then_bad_overrides(repo_copy, tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = _dvc(repo_copy, "repro", "ingest", tracking_uri=uri)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(json.loads((repo_copy / "metrics" / "ingest.json").read_text())) >= {"source", "budget", "missing"}
    metrics = json.loads((repo_copy / "data" / "raw" / "stats.json").read_text())  # the full accounting
    assert metrics["corpus"]["leaner"]["train"]["web"]["documents"] > 0
    assert (repo_copy / "dvc.lock").exists() and (repo_copy / "data" / "raw" / "meta.json").exists()

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tinyhelen")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("tinyhelen.parent") == "true"]  # this `dvc repro`
    children = {r.data.tags["tinyhelen.stage"]: r for r in runs if r is not parent}
    assert sorted(children) == ["ingest", "validate"]  # validate runs first, then the stage asked for
    run = children["ingest"]
    assert parent.info.run_name.startswith("repro-") and parent.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id and run.info.run_name == "ingest"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["tinyhelen.stage"] == "ingest"
    assert run.data.tags["git.rev"] != "unknown"
    assert run.data.params["data.source"] == "sample"

    # a second repro is a no-op
    again = _dvc(repo_copy, "repro", "ingest", tracking_uri=uri)
    assert again.returncode == 0 and "didn't change" in again.stdout + again.stderr

    # DVC itself refuses to override a key params.yaml lacks; with `+key=value` it adds the key and the
    # `validate` stage refuses it, naming the key (with a "did you mean"), before DVC deletes any output:
    # data/raw survives a typo and a missing source folder untouched.
    raw = _tree_hashes(repo_copy / "data" / "raw")
    for override, key in (
        ("ingest.nosuch=1", "ingest.nosuch"),
        ("+pretrain.max_step=10", "unknown key 'pretrain.max_step' (value: 10); did you mean 'pretrain.max_steps'?"),
        ("data.source=/nonexistent", "invalid value for 'data.source': no such folder"),
        ("seed=abc", "invalid value for 'seed'"),
    ):
        bad = _dvc(repo_copy, "exp", "run", "-S", override, tracking_uri=uri)
        assert bad.returncode != 0, override
        assert key in bad.stdout + bad.stderr, bad.stdout + bad.stderr
        assert "Running stage 'ingest'" not in bad.stdout + bad.stderr
        assert _tree_hashes(repo_copy / "data" / "raw") == raw, f"{override} touched data/raw"
        subprocess.run(["git", "checkout", "-q", "params.yaml"], cwd=repo_copy, check=True)


def _tree_hashes(root: Path) -> dict[str, str]:
    import hashlib

    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_bad_params_fail_in_validate_before_any_output_is_touched(repo_copy, tmp_path):
    """DVC deletes a stage's outputs before running it; `validate` runs first and keeps them."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = _dvc(repo_copy, "repro", "ingest", tracking_uri=uri)
    assert first.returncode == 0, first.stdout + first.stderr
    assert json.loads((repo_copy / "data" / "validated.json").read_text()) == {
        "params": "valid",
        "checked_by": "stages/validate.py",
    }
    raw = repo_copy / "data" / "raw"
    before = _tree_hashes(raw)
    assert before
    for override, message in (
        ("pretrain.micro_batch_size=3", "batch_size (8) must be a multiple of micro_batch_size (3)"),
        ("model.llama.num_attention_heads=5", "hidden_size (64) must be a multiple of num_attention_heads (5)"),
    ):
        bad = _dvc(repo_copy, "exp", "run", "-S", override, tracking_uri=uri)
        output = bad.stdout + bad.stderr
        assert bad.returncode != 0, override
        assert message in output, output
        assert "Running stage 'ingest'" not in output
        assert _tree_hashes(raw) == before, f"{override} touched data/raw"
        subprocess.run(["git", "checkout", "-q", "params.yaml"], cwd=repo_copy, check=True)
    # a passing re-validation re-runs nothing downstream: the marker's content never changes
    again = _dvc(repo_copy, "repro", "--force", "--single-item", "validate", tracking_uri=uri)
    assert again.returncode == 0, again.stdout + again.stderr
    status = _dvc(repo_copy, "status", "ingest", tracking_uri=uri)
    assert "changed" not in status.stdout, status.stdout
