"""Presets: every key exists in params.yaml, the merged params validate, and the -S flags say the same."""

from __future__ import annotations

import pytest
import yaml

from tinyhelen.config import validate_params
from tinyhelen.errors import ConfigError
from tinyhelen.preset import apply_preset, dvc_flags, read_preset

from tests.conftest import REPO_ROOT

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def without_other_branches(preset: dict) -> dict:
    # `pack` is the pack stage's section; it is only checked once that stage is in params.yaml.
    return {k: v for k, v in preset.items() if k in PARAMS}


@pytest.mark.parametrize("name", ["paper.yaml", "llama-1m.yaml", "curriculum-paper.yaml"])
def test_presets_apply_and_validate(name):
    preset = without_other_branches(read_preset(REPO_ROOT / "presets" / name))
    validate_params(apply_preset(PARAMS, preset, name))


def test_paper_preset_holds_the_paper_settings():
    preset = read_preset(REPO_ROOT / "presets" / "paper.yaml")
    assert preset["pack"]["block_size"] == 1024
    params = validate_params(apply_preset(PARAMS, without_other_branches(preset)))
    cfg = params.pretrain
    assert (cfg.batch_size, cfg.max_steps, cfg.warmup_steps, cfg.lr_schedule, params.seed) == (
        512, 10000, 100, "linear", 65)


def test_flags_round_trip_through_yaml_like_dvc():
    preset = without_other_branches(read_preset(REPO_ROOT / "presets" / "paper.yaml"))
    flags = dvc_flags(preset)
    assert flags[0] == "-S" and "pretrain.lr.llama=0.005" in flags
    as_dvc = {}
    for flag in flags[1::2]:
        key, value = flag.split("=", 1)
        node = as_dvc
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    assert apply_preset(PARAMS, as_dvc) == apply_preset(PARAMS, preset)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="my.yaml: key 'pretrain.nosuch' is not in params.yaml"):
        apply_preset(PARAMS, {"pretrain": {"nosuch": 1}}, "my.yaml")
