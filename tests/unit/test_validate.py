"""The `validate` stage: every params rule and the paths params name, before any other stage runs."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.core.errors import ConfigError
from tinyhelen.validate import MARKER, validate_project


def _params_file(tmp_path, **sections) -> str:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for section, values in sections.items():
        raw[section].update(values) if isinstance(raw[section], dict) else raw.update({section: values})
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def test_the_repo_params_are_valid():
    validate_project(REPO_ROOT / "params.yaml", root=REPO_ROOT)


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"data": {"source": "/nonexistent"}}, "invalid value for 'data.source': no such folder"),
        ({"data": {"source": "."}}, "has no 'ori/' or 'leaner/' folder"),
        (
            {"simplify": {"backend": "llm", "prompts_dir": "prompts"}},
            "'simplify.prompts_dir': lacks the prompt templates",
        ),
        ({"glue_simplify": {"enabled": True, "source": "no/such/glue"}}, "'glue_simplify.source': no such folder"),
    ],
)
def test_missing_paths_are_refused_naming_the_key(tmp_path, sections, message):
    with pytest.raises(ConfigError, match=message):
        validate_project(_params_file(tmp_path, **sections), root=REPO_ROOT)


def test_stage_writes_a_constant_marker_and_refuses_a_typo(tmp_path, monkeypatch):
    from stages import validate

    monkeypatch.chdir(REPO_ROOT)  # paths in params are relative to the repo root, as under DVC
    out = tmp_path / "validated.json"
    validate.main(["--out", str(out), "--params", str(REPO_ROOT / "params.yaml")])
    first = out.read_bytes()
    assert json.loads(first) == MARKER
    validate.main(["--out", str(out), "--params", _params_file(tmp_path, seed=7)])
    assert out.read_bytes() == first  # other params, same marker: nothing downstream re-runs for it

    bad = _params_file(tmp_path, pretrain={"max_step": 10})
    out.unlink()
    with pytest.raises(ConfigError, match="did you mean 'pretrain.max_steps'"):
        validate.main(["--out", str(out), "--params", bad])
    assert not out.exists()
