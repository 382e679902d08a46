"""The model registry: the paper's configs give the paper's parameter counts (spec §4), dims are checked."""

from __future__ import annotations

import re

import pytest
import torch
from pydantic import ValidationError

from tinyhelen.config import ModelConfig, load_params
from tinyhelen.errors import ConfigError
from tinyhelen.models import build_model, count_parameters
from tinyhelen.preset import apply_preset, read_preset

from tests.conftest import REPO_ROOT


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
