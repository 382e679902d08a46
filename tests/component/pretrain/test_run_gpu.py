"""CUDA paths of the loop: bf16 autocast + torch.compile, and Mamba with the mamba-ssm kernels.

pytest -m gpu tests/component/pretrain/test_run_gpu.py
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from tests.component.pretrain.test_run import packs, run  # noqa: F401  (module fixture)

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("arch", ["llama", "bert"])
def test_bf16_compiled_training_learns_on_cuda(arch, packs, tmp_path):  # noqa: F811
    result = run(arch, packs, tmp_path, device="cuda", precision="auto", compile="auto")
    losses = [row["loss"] for row in result.train_curve]
    assert losses[-1] < losses[0]


def test_bf16_loss_tracks_fp32_on_cuda(packs, tmp_path):  # noqa: F811
    fp32 = run("llama", packs, tmp_path / "a", device="cuda", precision="fp32", compile="off")
    bf16 = run("llama", packs, tmp_path / "b", device="cuda", precision="bf16", compile="off")
    assert bf16.metrics["val/loss"] == pytest.approx(fp32.metrics["val/loss"], rel=0.05)


@pytest.mark.skipif(importlib.util.find_spec("mamba_ssm") is None, reason="mamba-ssm is not installed")
def test_mamba_with_kernels_learns(packs, tmp_path):  # noqa: F811
    result = run("mamba", packs, tmp_path, device="cuda", precision="auto", compile="off")
    losses = [row["loss"] for row in result.train_curve]
    assert losses[-1] < losses[0]
