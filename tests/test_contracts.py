"""Contracts between dvc.yaml, params.yaml and the code: keys exist, commands import, deps exist."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from tinyhelen.config import load_params

from tests.conftest import REPO_ROOT

DVC = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
STAGES = DVC["stages"]
# Modules that only log or track, never shape an output: editing them should not re-run the pipeline.
NOT_DEPS = {"tinyhelen/log.py", "tinyhelen/tracking.py"}


def _param_keys(stage: dict) -> list[str]:
    keys = []
    for entry in stage.get("params", []):
        if isinstance(entry, str):
            keys.append(entry)
        else:  # {file: [keys]}
            for file, names in entry.items():
                assert file == "params.yaml", f"params come from params.yaml only, not {file}"
                keys.extend(names)
    return keys


def _lookup(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"'{dotted}' is not in params.yaml"
        node = node[part]
    return node


def test_params_yaml_is_valid():
    load_params(REPO_ROOT / "params.yaml")


def _expand_matrix(stage: dict, key: str) -> list[str]:
    """A templated key (`model.${item.arch}`) for every value of the stage's matrix."""
    keys = [key]
    for axis, values in stage.get("matrix", {}).items():
        if isinstance(values, str):  # `${pretrain.archs}`: the list lives in params.yaml
            values = _lookup(PARAMS, values.removeprefix("${").removesuffix("}"))
        keys = [k.replace(f"${{item.{axis}}}", str(v)) for k in keys for v in values]
    return keys


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_params_exist(name):
    for key in _param_keys(STAGES[name]):
        for expanded in _expand_matrix(STAGES[name], key):
            _lookup(PARAMS, expanded)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_cmd_module_imports(name):
    match = re.match(r"python -m ([\w.]+)", STAGES[name]["cmd"])
    assert match, f"stage {name}: cmd should be 'python -m stages.<name> ...'"
    module = importlib.import_module(match.group(1))
    assert callable(getattr(module, "main", None)), f"{match.group(1)} has no main(argv)"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_exist_and_cover_imports(name):
    stage = STAGES[name]
    deps = [d for d in stage.get("deps", []) if "${" not in d]
    produced = {out if isinstance(out, str) else next(iter(out))
                for other in STAGES.values() for kind in ("outs", "metrics") for out in other.get(kind, [])}
    for dep in deps:
        # a dep is a file in the repo, (inside) what another stage writes (data/raw, data/clean/ori, ...), or a
        # folder of what other stages write (metrics/probe: every probe instance's metrics file)
        upstream = any(dep == out or dep.startswith(out.rstrip("/") + "/") or out.startswith(dep.rstrip("/") + "/")
                       for out in produced)
        assert (REPO_ROOT / dep).exists() or upstream, f"stage {name}: dep {dep} does not exist"
    # Every tinyhelen module the stage's entry point imports (directly or not) must be a dep.
    module = re.match(r"python -m ([\w.]+)", stage["cmd"]).group(1)
    imported = _tinyhelen_imports(module)
    missing = sorted(m for m in imported - NOT_DEPS if m not in deps)
    assert not missing, f"stage {name}: add these library modules to its deps: {missing}"


def _tinyhelen_imports(module: str, seen: set | None = None) -> set[str]:
    seen = set() if seen is None else seen
    path = REPO_ROOT / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = REPO_ROOT / module.replace(".", "/") / "__init__.py"
    for match in re.finditer(r"^\s*(?:from|import) (tinyhelen(?:\.[\w.]+)?)", path.read_text(), re.M):
        name = match.group(1)
        target = name.replace(".", "/") + ".py"
        if (REPO_ROOT / target).exists() and target not in seen:
            seen.add(target)
            _tinyhelen_imports(name, seen)
    return seen
