"""Cache durability: kill -9 a running `simplify` stage, restart it, and check no cached answer is asked again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import yaml

from tests.conftest import REPO_ROOT
from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.simplify_corpus import write_simplify_corpus
from tinyhelen.core.config import with_changes
from tinyhelen.core.io import iter_records
from tinyhelen.params import load_params
from tinyhelen.simplify.llm import request_key


def test_killed_run_resumes_without_repeating_cached_calls(tmp_path):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=(), instructions=40)
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["simplify"].update(backend="llm", genres=["math"], splits=["train"])
    raw["llm"].update(concurrency=2)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw))
    settings = with_changes(load_params(params_file).llm)
    cache = tmp_path / "cache.sqlite"
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
        str(params_file),
    ]

    with FakeLLMServer(latency=0.1) as server:
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-test-durability",
            "TINYHELEN_LLM_CACHE": str(cache),
            "TINYHELEN_TRACKING": "off",
        }
        run = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(server.requests) < 12 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.02)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        assert run.returncode == -signal.SIGKILL
        assert not (tmp_path / "leaner").exists()  # nothing half-written
        with sqlite3.connect(cache) as db:
            cached_before = {key for (key,) in db.execute("SELECT key FROM responses")}
        asked_before = len(server.prompts)
        assert len(cached_before) >= 8

        finished = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr[-2000:]

    # (the one unusable answer, FAULT:echo, is asked again by design: llm.max_parse_retries new requests)
    usable = [prompt for prompt in server.prompts if "FAULT:" not in prompt]
    asked_after = [request_key(settings, prompt) for prompt in server.prompts[asked_before:] if "FAULT:" not in prompt]
    assert not cached_before & set(asked_after), "a cached answer was requested again"
    assert len(asked_after) == len(set(asked_after))
    # only requests that were in flight when the process died can be asked twice
    assert len(usable) - len({request_key(settings, p) for p in usable}) <= 2
    kept = [r for _, r in iter_records(tmp_path / "leaner" / "instruction.jsonl")]
    rejected = [r for _, r in iter_records(tmp_path / "leaner" / "rejects.jsonl")]
    assert len(kept) == 40 and [r["reason"] for r in rejected] == ["echoed_prompt"]
