"""The model registry: the paper's configs give the paper's parameter counts (spec §4), dims are checked."""

from __future__ import annotations

import pytest
import torch

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
    raw = load_params(REPO_ROOT / "params.yaml").model.model_dump()
    raw["xlnet"]["d_head"] = 7
    with pytest.raises(ConfigError, match="model.xlnet.d_model must equal n_head \\* d_head"):
        build_model("xlnet", ModelConfig.model_validate(raw), 100, {})
    raw = load_params(REPO_ROOT / "params.yaml").model.model_dump()
    raw["mamba"]["mamba_n_heads"] = 3
    with pytest.raises(ConfigError, match="model.mamba: mamba_n_heads \\* mamba_d_head"):
        build_model("mamba", ModelConfig.model_validate(raw), 100, {})
