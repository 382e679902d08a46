"""Two-process data-parallel training on CPU (gloo) through the documented `accelerate launch` command.

pytest -m slow tests/component/pretrain/test_ddp.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.fixtures.tiny_packs import write_tiny_packs

pytestmark = pytest.mark.slow  # three interpreter start-ups (launcher + 2 workers): ~30 s on 2 busy cores


def _params(tmp_path, run_dir) -> str:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["model"]["llama"].update(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_key_value_heads=2)
    raw["pretrain"].update(
        max_steps=6,
        batch_size=8,
        micro_batch_size=2,
        eval_every=3,
        save_every=3,
        log_every=2,
        run_dir=str(run_dir),
        device="cpu",
        cpu_threads=1,
    )
    path = tmp_path / f"params-{run_dir.name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _stage_args(root, out, params) -> list[str]:
    return [
        "-m",
        "stages.pretrain",
        "--arch",
        "llama",
        "--corpus",
        "leaner",
        "--packed",
        str(root / "packed"),
        "--tokenizers",
        str(root / "tokenizers"),
        "--models",
        str(out / "models"),
        "--metrics",
        str(out / "metrics"),
        "--params",
        params,
    ]


def test_two_gloo_processes_match_one_process(tmp_path):
    root = write_tiny_packs(tmp_path / "packs", block_size=32, families=("causal",))
    env = {**os.environ, "TINYHELEN_TRACKING": "off"}
    two, one = tmp_path / "two", tmp_path / "one"
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--multi_gpu",
    ]  # torchrun; device cpu -> gloo
    done = subprocess.run(
        launch + _stage_args(root, two, _params(tmp_path, two / "runs")),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "process 1 of 2" in done.stderr  # only the main process logs at INFO
    subprocess.run(
        [sys.executable, *_stage_args(root, one, _params(tmp_path, one / "runs"))],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    metrics_two = json.loads((two / "metrics" / "llama-leaner-s65.json").read_text())
    metrics_one = json.loads((one / "metrics" / "llama-leaner-s65.json").read_text())
    assert metrics_two["processes"] == 2 and metrics_one["processes"] == 1
    # 2 processes x 2 micro-batches of 2 rows average the same gradients as 1 process x 4 micro-batches.
    assert metrics_two["val/loss"] == pytest.approx(metrics_one["val/loss"], rel=1e-4)
    assert metrics_two["tokens_seen"] == metrics_one["tokens_seen"] == 6 * 8 * 32
    assert (two / "models" / "llama-leaner-s65" / "config.json").exists()
    assert sorted(p.name for p in (two / "runs" / "llama-leaner-s65").iterdir()) == ["checkpoint-0000003"]
