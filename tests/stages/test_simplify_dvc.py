"""`dvc repro` of `simplify` with the llm backend in a copy of the repo: the key stays out of dvc.lock, and a
forced re-run (DVC deletes the outs first) makes zero LLM calls because the cache is not a DVC out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.fake_llm_server import FakeLLMServer
from tests.stages.test_dvc_repro import _dvc, repo_copy  # noqa: F401 (a fixture)

SECRET = "sk-test-NOT-IN-DVC-LOCK-5150"


@pytest.mark.slow
def test_dvc_repro_simplify_llm(repo_copy, tmp_path, monkeypatch):  # noqa: F811
    subprocess.run(
        [sys.executable, "-m", "stages.ingest", "--out", "data/clean", "--metrics", str(tmp_path / "ingest.json")],
        cwd=repo_copy,
        check=True,
        capture_output=True,
        env={**os.environ, "TINYHELEN_TRACKING": "off"},
    )
    params = yaml.safe_load((repo_copy / "params.yaml").read_text())
    params["simplify"].update(backend="llm", genres=["web"], splits=["train"], instructions=False)
    (repo_copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # --single-item runs no upstream stage: the validate marker every stage depends on comes first
    subprocess.run(
        [sys.executable, "-m", "stages.validate", "--out", "data/validated.json"],
        cwd=repo_copy,
        check=True,
        capture_output=True,
        env={**os.environ, "TINYHELEN_TRACKING": "off"},
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        first = _dvc(repo_copy, "repro", "--single-item", "simplify", tracking_uri=uri)
        assert first.returncode == 0, first.stdout + first.stderr
        calls = json.loads((repo_copy / "metrics" / "simplify.json").read_text())["total"]["llm_calls"]
        assert calls > 0 and len(server.requests) == calls
        assert (repo_copy / ".cache" / "llm" / "responses.sqlite").exists()
        forced = _dvc(repo_copy, "repro", "--force", "--single-item", "simplify", tracking_uri=uri)
        assert forced.returncode == 0, forced.stdout + forced.stderr
    metrics = json.loads((repo_copy / "metrics" / "simplify.json").read_text())
    # every prompt answered from the cache (the sample repeats one web page, so prompts >= distinct calls)
    assert metrics["total"]["llm_calls"] == 0 and metrics["total"]["cache_hits"] >= calls
    assert len(server.requests) == calls
    lock = (repo_copy / "dvc.lock").read_text()
    assert "simplify" in lock and SECRET not in lock and SECRET not in first.stdout + first.stderr
    assert "prompts/simplify/web.txt" in lock
