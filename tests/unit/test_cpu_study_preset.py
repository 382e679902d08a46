"""presets/cpu-study.yaml: valid against params.yaml once the other branches' keys are set aside, and its
GLUE tasks are those with train files in the release copy.

    pytest tests/unit/test_cpu_study_preset.py -q
"""

from __future__ import annotations

import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.params import validate_params
from tinyhelen.preset import apply_preset, leaves, read_preset

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
PRESET = read_preset(REPO_ROOT / "presets" / "cpu-study.yaml")
# Keys of sections that other branches add (the preset's MERGE lines and block); drop one from this set when
# its branch is merged and the key is in params.yaml.
OTHER_BRANCHES = ("pretrain.seeds", "probe.", "curriculum.")


def _in_params(key: str) -> bool:
    node = PARAMS
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _other_branch(key: str) -> bool:
    return key == OTHER_BRANCHES[0] or key.startswith(OTHER_BRANCHES[1:])


def _this_branch(preset: dict) -> dict:
    """The preset without the other branches' keys that params.yaml does not have (yet)."""
    kept: dict = {}
    for key, value in leaves(preset).items():
        if _other_branch(key) and not _in_params(key):
            continue
        node = kept
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return kept


def test_only_the_marked_keys_are_missing_from_params():
    missing = [k for k in leaves(PRESET) if not _in_params(k)]
    assert all(_other_branch(k) for k in missing), missing


def test_cpu_study_validates():
    params = validate_params(apply_preset(PARAMS, _this_branch(PRESET), "cpu-study.yaml"))
    assert params.data.source == "../shared/tinyhelen-data"
    assert params.pretrain.archs == ["llama"] and params.pretrain.corpora == ["leaner", "ori"]
    assert params.model.llama.hidden_size == 128 and params.model.llama.num_hidden_layers == 4
    assert len(PRESET["pretrain"]["seeds"]) >= 3


def test_glue_tasks_have_train_files(shared_data):
    glue = shared_data / "leaner" / "glue"
    with_train = sorted(p.name.removesuffix("_train.jsonl") for p in glue.glob("*_train.jsonl"))
    assert set(PRESET["glue"]["tasks"]) <= set(with_train)
    assert set(PRESET["glue"]["tasks"]) == set(with_train) - {"wnli"}  # every task the paper runs that can run
