"""The learning-rate schedule and runtime choices of the training loop."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import load_params
from tinyhelen.pretrain.loop import get_lr, resolve_runtime


@pytest.mark.parametrize(
    "schedule, step, expected",
    [
        ("linear", 0, 0.0),
        ("linear", 5, 0.5),
        ("linear", 10, 1.0),
        ("linear", 60, 0.5),
        ("linear", 110, 0.0),
        ("cosine", 10, 1.0),
        ("cosine", 60, 0.5),
        ("cosine", 110, 0.0),
        ("constant", 80, 1.0),
    ],
)
def test_warmup_then_decay(schedule, step, expected):
    assert get_lr(step, peak=1.0, warmup_steps=10, max_steps=110, schedule=schedule) == pytest.approx(expected)


def test_no_warmup_starts_at_peak():
    assert get_lr(0, peak=3e-4, warmup_steps=0, max_steps=10, schedule="linear") == pytest.approx(3e-4)


def test_cpu_runtime_keeps_cuda_features_off():
    cfg = load_params(REPO_ROOT / "params.yaml").pretrain
    runtime = resolve_runtime(with_changes(cfg, device="cpu"))
    assert runtime == {"cpu": True, "bf16": False, "compile": False}
    assert resolve_runtime(with_changes(cfg, device="cpu", precision="bf16"))["bf16"] is True


def test_cuda_requested_without_cuda_is_a_config_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    cfg = load_params(REPO_ROOT / "params.yaml").pretrain
    with pytest.raises(ConfigError, match="pretrain.device is 'cuda'"):
        resolve_runtime(with_changes(cfg, device="cuda"))
