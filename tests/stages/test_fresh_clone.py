"""A fresh clone's `dvc repro` on the bundled sample reproduces the committed dvc.lock byte for byte and
leaves `git status` clean; a forced re-run of ingest then re-runs nothing else (its outputs hash the same).

CI runs this (`pytest -m repro`, see .ci/run); it runs the whole sample pipeline (~15 min on 2 cores, tracking off):

    pytest -m repro tests/stages/test_fresh_clone.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.repro, pytest.mark.timeout(3600)]  # a whole pipeline run: not 600 s


def _run(*args: str, cwd: Path) -> str:
    env = {**os.environ, "TINYHELEN_TRACKING": "off", "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, (
        f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout + result.stderr


def _ran(output: str) -> list[str]:
    return re.findall(r"^Running stage '([^']+)'", output, re.M)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    if shutil.which("git") is None or shutil.which("dvc") is None:
        pytest.skip("needs git and dvc")
    status = _run("git", "status", "--porcelain", "--untracked-files=no", cwd=REPO_ROOT)
    if status.strip():
        pytest.skip(f"the working tree has uncommitted changes to tracked files:\n{status}")
    root = tmp_path_factory.mktemp("fresh") / "tinyhelen"
    _run("git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(root), cwd=REPO_ROOT)
    return root


def test_fresh_clone_repro_reproduces_the_lock(clone):
    committed = (clone / "dvc.lock").read_bytes()
    _run("dvc", "repro", cwd=clone)
    status = _run("git", "status", "--porcelain", cwd=clone)
    changed = [line for line in status.splitlines() if line.strip()]
    diff = _run("git", "diff", "--stat", cwd=clone) if changed else ""
    assert not changed, f"a fresh clone's dvc repro changed tracked files:\n{status}\n{diff}"
    assert (clone / "dvc.lock").read_bytes() == committed


def test_forced_ingest_reruns_nothing_else(clone):
    if not (clone / "data" / "raw").is_dir():
        pytest.skip("needs the repro of the test above")
    forced = _ran(_run("dvc", "repro", "--force", "--single-item", "ingest", cwd=clone))
    assert forced == ["ingest"]
    after = _ran(_run("dvc", "repro", cwd=clone))
    assert after == [], f"these stages re-ran although ingest's outputs did not change: {after}"
    assert _run("git", "status", "--porcelain", cwd=clone).strip() == ""
