"""presets/cpu-study.yaml: every key exists in params.yaml, the merged params validate, and its GLUE tasks are
those with train files in the release copy.

    pytest tests/unit/test_cpu_study_preset.py -q
"""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.params import validate_params
from tinyhelen.preset import apply_preset, leaves, read_preset

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
PRESET = read_preset(REPO_ROOT / "presets" / "cpu-study.yaml")


def _in_params(key: str) -> bool:
    node = PARAMS
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_key_is_in_params():
    assert [k for k in leaves(PRESET) if not _in_params(k)] == []


def test_cpu_study_validates():
    params = validate_params(apply_preset(PARAMS, PRESET, "cpu-study.yaml"))
    assert params.data.source == "../shared/tinyhelen-data"
    assert params.pretrain.archs == ["llama"] and params.pretrain.corpora == ["leaner", "ori"]
    assert params.model.llama.hidden_size == 128 and params.model.llama.num_hidden_layers == 4
    assert len(params.pretrain.seeds) >= 3 and len(params.curriculum.seeds) >= 3
    assert params.probe.source == "../shared/zorro"
    # the curriculum's proxy is the same 1M Llama as pretraining
    assert params.curriculum.model.hidden_size == params.model.llama.hidden_size


def test_glue_tasks_have_train_files(shared_data):
    glue = shared_data / "leaner" / "glue"
    with_train = sorted(p.name.removesuffix("_train.jsonl") for p in glue.glob("*_train.jsonl"))
    assert set(PRESET["glue"]["tasks"]) <= set(with_train)
    assert set(PRESET["glue"]["tasks"]) == set(with_train) - {"wnli"}  # every task the paper runs that can run
