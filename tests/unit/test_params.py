"""params.yaml loads strictly: unknown keys, wrong types and bad values fail naming the full key."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.core.config import flatten, with_changes
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import Params, load_params, validate_params


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_repo_params_load(raw):
    params = validate_params(raw)
    assert isinstance(params, Params)
    assert params.data.source == "sample"
    assert params.seed == 65


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_params(raw)
    return str(info.value)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("ingest", "nosuch"), 1, "unknown key 'ingest.nosuch' (value: 1)"),
        (("nosuch",), {"x": 1}, "unknown key 'nosuch'"),
        (("seed",), "abc", "invalid value for 'seed'"),
        (("seed",), -1, "invalid value for 'seed'"),
        (("data", "budget"), "7M", "invalid value for 'data.budget'"),
        (("data", "on_damaged"), "ignore", "invalid value for 'data.on_damaged'"),
        (("ingest", "max_documents"), -5, "invalid value for 'ingest.max_documents'"),
        (("ingest", "max_documents"), 1.5, "invalid value for 'ingest.max_documents'"),
        (("data", "source"), "hf:nobody", "invalid value for 'data.source'"),
        (("data", "source"), "", "invalid value for 'data.source'"),
        (("data", "instructions"), "maybe", "invalid value for 'data.instructions'"),
    ],
)
def test_bad_values_name_their_key(raw, path, value, expected):
    bad = copy.deepcopy(raw)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    message = _error(bad)
    assert expected in message
    assert repr(value) in message or "unknown key" in message


def test_bad_list_item_names_its_index(raw):
    raw["data"]["genres"] = ["web", "poetry"]
    assert "invalid value for 'data.genres[1]'" in _error(raw)


def test_duplicate_list_items_fail(raw):
    raw["data"]["splits"] = ["train", "train"]
    assert "lists ['train'] more than once" in _error(raw)


def test_missing_key_fails(raw):
    del raw["data"]["budget"]
    assert "missing key 'data.budget'" in _error(raw)


def test_top_level_must_be_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        validate_params([1, 2])


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 65\ndata: [unclosed\n")
    with pytest.raises(ConfigError, match=r"params.yaml:\d+: not valid YAML"):
        load_params(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")


def test_configs_are_frozen(params):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        params.data.source = "elsewhere"


def test_with_changes_revalidates(params):
    changed = with_changes(params.data, source="../elsewhere")
    assert changed.source == "../elsewhere" and params.data.source == "sample"
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="budget"):
        with_changes(params.data, budget="3M")


def test_every_field_is_documented():
    from pydantic import BaseModel

    def walk(model: type[BaseModel]):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no docstring"
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation)

    walk(Params)


def test_flatten(params):
    flat = flatten({"seed": 1, "data": params.data})
    assert flat["seed"] == 1
    assert flat["data.source"] == "sample"
    assert flat["data.genres"] == list(params.data.genres)


@pytest.mark.parametrize(
    "section, key, typo, suggestion",
    [
        ("pretrain", None, "max_step", "pretrain.max_steps"),
        ("llm", None, "max_attempt", "llm.max_attempts"),
        ("clean", "near_dedup", "treshold", "clean.near_dedup.threshold"),
        (None, None, "sed", "seed"),
    ],
)
def test_unknown_key_gets_a_did_you_mean(raw, section, key, typo, suggestion):
    node = raw if section is None else raw[section] if key is None else raw[section][key]
    node[typo] = 10
    with pytest.raises(ConfigError, match=rf"unknown key '[\w.]*{typo}' \(value: 10\); did you mean '{suggestion}'\?"):
        validate_params(raw)


def test_unknown_key_far_from_any_gets_no_guess(raw):
    raw["pretrain"]["zzzz"] = 1
    with pytest.raises(ConfigError) as info:
        validate_params(raw)
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["pretrain"].update(batch_size=12), "batch_size (12) must be a multiple of micro_batch_size (8)"),
        (
            lambda r: r["model"]["llama"].update(num_attention_heads=5),
            "'model.llama': hidden_size (64) must be a multiple of num_attention_heads (5)",
        ),
        (
            lambda r: r["model"]["llama"].update(num_key_value_heads=3),
            "num_attention_heads (4) must be a multiple of num_key_value_heads (3)",
        ),
        (lambda r: r["model"]["bert"].update(num_attention_heads=3), "'model.bert': hidden_size (64)"),
        (lambda r: r["model"]["mamba"].update(mamba_n_heads=4), "mamba_n_heads * mamba_d_head (4 * 16)"),
        (lambda r: r["model"]["xlnet"].update(d_head=8), "d_model (64) must equal n_head * d_head (4 * 8)"),
        (
            lambda r: r["pack"].update(block_size=2048),
            "model.llama.max_position_embeddings (1024) must be at least the causal pack.block_size (2048)",
        ),
        (lambda r: r["tokenizer"].update(families=["causal"]), "pack.families ['bert', 'xlnet'] are not in"),
    ],
)
def test_cross_field_rules_fail_at_load_time(raw, change, message):
    change(raw)
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_params(raw)
