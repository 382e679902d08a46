"""Ctrl-C in a running stage: one line saying what was kept and how to resume, exit status 130, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import yaml

from tests.conftest import REPO_ROOT
from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.simplify_corpus import write_simplify_corpus


def test_ctrl_c_in_simplify_is_one_line(tmp_path):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=(), instructions=30)
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["simplify"].update(backend="llm", genres=["math"], splits=["train"])
    raw["llm"].update(concurrency=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    command = [
        sys.executable,
        "-m",
        "stages.simplify",
        "--clean",
        str(corpus),
        "--out",
        str(tmp_path / "leaner"),
        "--metrics",
        str(tmp_path / "metrics.json"),
        "--params",
        str(tmp_path / "params.yaml"),
    ]
    with FakeLLMServer(latency=0.2) as server:
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-interrupt",
            "TINYHELEN_LLM_CACHE": str(tmp_path / "cache.sqlite"),
            "TINYHELEN_TRACKING": "off",
        }
        run = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 60
        while len(server.requests) < 4 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    (line,) = [line for line in stderr.splitlines() if "ERROR" in line]
    assert "interrupted: every LLM answer received so far, in the response cache" in line
    assert "dvc repro" in line and "python -m stages.simplify --clean" in line
    assert not (tmp_path / "leaner").exists()
