"""The model registry: the paper's configs give the paper's parameter counts (spec §4), dims are checked."""

from __future__ import annotations

import re

import pytest
import torch
from pydantic import ValidationError

from tests.conftest import REPO_ROOT
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import load_params
from tinyhelen.preset import apply_preset, read_preset
from tinyhelen.pretrain.config import ModelConfig
from tinyhelen.pretrain.models import build_model, count_parameters


def model_config(preset_files=()) -> ModelConfig:
    import yaml

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for name in preset_files:
        preset = read_preset(REPO_ROOT / "presets" / name)
        raw["model"] = apply_preset({"model": raw["model"]}, {"model": preset["model"]})["model"]
    return ModelConfig.model_validate(raw["model"])


# Non-embedding counts of the paper's configs (spec §4, "net"); BERT here is the MLM model (its MLM head
# transform instead of the pooler, hence +2,768) and Mamba-2 + gated MLP matches mamba_ssm exactly.
PAPER_COUNTS = {"llama": 14_456_400, "mamba": 14_610_832, "bert": 14_346_320, "xlnet": 14_739_200}


@pytest.mark.parametrize("arch", sorted(PAPER_COUNTS))
def test_paper_configs_have_the_paper_sizes(arch):
    with torch.device("meta"):  # no memory, no init: counting only
        model = build_model(arch, model_config(["paper.yaml"]), 2000, {"pad": 0})
    assert count_parameters(model)["non_embedding"] == PAPER_COUNTS[arch]


def test_llama_1m_proxy():
    with torch.device("meta"):
        model = build_model("llama", model_config(["paper.yaml", "llama-1m.yaml"]), 2000, {"pad": 0})
    assert count_parameters(model)["non_embedding"] == 1_049_728


def test_bad_dims_are_named():
    # The rules are the config's own (every consumer gets them at load time); build_model keeps its checks for
    # configs made without validation.
    raw = load_params(REPO_ROOT / "params.yaml").model.model_dump()
    raw["xlnet"]["d_head"] = 7
    with pytest.raises(ValidationError, match=re.escape("d_model (64) must equal n_head * d_head (4 * 7)")):
        ModelConfig.model_validate(raw)
    base = load_params(REPO_ROOT / "params.yaml").model
    unchecked = base.model_copy(update={"xlnet": base.xlnet.model_copy(update={"d_head": 7})})  # not validated
    with pytest.raises(ConfigError, match="model.xlnet.d_model must equal n_head \\* d_head"):
        build_model("xlnet", unchecked, 100, {})
    raw = load_params(REPO_ROOT / "params.yaml").model.model_dump()
    raw["mamba"]["mamba_n_heads"] = 3
    with pytest.raises(ValidationError, match=re.escape("mamba_n_heads * mamba_d_head (3 * 16)")):
        ModelConfig.model_validate(raw)


def _mamba(seed: int = 65, **dims):
    raw = model_config().model_dump()
    raw["mamba"].update(hidden_size=128, intermediate_size=256, mamba_n_heads=64, mamba_d_head=4, **dims)
    torch.manual_seed(seed)
    return build_model("mamba", ModelConfig.model_validate(raw), 300, {"pad": 1, "bos": 0, "eos": 0})


def test_mamba_init_is_mamba_ssms():
    """dt log-uniform in [0.001, 0.1] (stored as inverse softplus), A = -U(1, 16), D = 1, residual outputs
    rescaled by 1/sqrt(2 * n_layer), other Linear weights PyTorch's default (kaiming-uniform)."""
    import math

    from scipy import stats

    model = _mamba()
    layers = model.model.layers
    dt = torch.cat([torch.nn.functional.softplus(layer.mamba.dt_bias) for layer in layers]).detach().double()
    assert dt.min() >= 0.001 - 1e-9 and dt.max() <= 0.1 + 1e-9
    low, high = math.log(0.001), math.log(0.1)
    assert stats.kstest(((dt.log() - low) / (high - low)).numpy(), "uniform").pvalue > 0.01  # log-uniform
    a = torch.cat([torch.exp(layer.mamba.A_log) for layer in layers]).detach().double()  # A = -a
    assert a.min() >= 1.0 and a.max() <= 16.0
    assert stats.kstest(((a - 1) / 15).numpy(), "uniform").pvalue > 0.01
    assert all(bool((layer.mamba.D == 1).all()) for layer in layers)
    n_layer = len(layers)
    for name, scale in (
        ("mamba.out_proj", math.sqrt(2 * n_layer)),
        ("feed_forward.down_proj", math.sqrt(2 * n_layer)),
        ("mamba.in_proj", 1.0),
        ("feed_forward.gate_proj", 1.0),
        ("lm_head", 1.0),
    ):
        weights = [model.get_submodule(name)] if name == "lm_head" else [layer.get_submodule(name) for layer in layers]
        values = torch.cat([w.weight.detach().flatten() for w in weights])
        bound = 1 / math.sqrt(weights[0].weight.shape[1]) / scale  # kaiming-uniform(a=sqrt(5)) = U(-b, b)
        assert values.abs().max() <= bound + 1e-7, name
        assert float(values.std()) == pytest.approx(bound / math.sqrt(3), rel=0.05), name
    embedding = model.model.embed_tokens.weight.detach()
    assert float(embedding.std()) == pytest.approx(0.02, rel=0.05)


def test_mamba_init_follows_the_seed():
    first, again, other = _mamba(1), _mamba(1), _mamba(2)
    assert torch.equal(first.model.layers[0].mamba.dt_bias, again.model.layers[0].mamba.dt_bias)
    assert not torch.equal(first.model.layers[0].mamba.dt_bias, other.model.layers[0].mamba.dt_bias)
