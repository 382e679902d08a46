"""Contracts between dvc.yaml, params.yaml and the code: keys exist, commands import, deps exist."""

from __future__ import annotations

import ast
import importlib
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.stage_deps import code_deps, listed_code_deps, yaml_block
from tinyhelen.params import load_params

DVC = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
STAGES = DVC["stages"]


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
def test_stage_deps_exist(name):
    stage = STAGES[name]
    deps = [d for d in stage.get("deps", []) if "${" not in d]
    produced = {
        expanded
        for other in STAGES.values()
        for out in other.get("outs", []) + other.get("metrics", [])
        for expanded in _expand_matrix(other, out if isinstance(out, str) else next(iter(out)))
    }
    for dep in deps:
        # a dep is a file in the repo, or (inside, or a folder of) what other stages write
        upstream = any(
            dep == out or dep.startswith(out.rstrip("/") + "/") or out.startswith(dep.rstrip("/") + "/")
            for out in produced
            if "${" not in out
        )
        assert (REPO_ROOT / dep).exists() or upstream, f"stage {name}: dep {dep} does not exist"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_equal_import_closure(name):
    """Every module the entry point imports (directly or not) is a dep, and every code dep is imported."""
    stage = STAGES[name]
    expected = set(code_deps(stage))
    listed = listed_code_deps(stage)
    assert listed == expected, (
        f"stage {name}: code deps differ from the import closure\n"
        f"  missing: {sorted(expected - listed)}\n  not imported: {sorted(listed - expected)}\n"
        f"paste this into dvc.yaml:\n{yaml_block(name, stage)}"
    )


def test_package_inits_hold_no_code():
    """Package `__init__.py` files are docstrings only, so they can be left out of stage deps; the one
    exception is tinyhelen/__init__.py (the portable CPU numerics), a dep of every stage."""
    inits = sorted((REPO_ROOT / "tinyhelen").rglob("__init__.py")) + [REPO_ROOT / "stages" / "__init__.py"]
    for init in [p for p in inits if p != REPO_ROOT / "tinyhelen" / "__init__.py"]:
        body = ast.parse(init.read_text()).body
        code = [node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert not code, f"{init.relative_to(REPO_ROOT)} holds code; keep package __init__ files to a docstring"


def test_narrowed_grid_gives_a_consistent_graph(tmp_path):
    """`dvc exp run -S 'pretrain.archs=[llama]'`: every matrix and summary follows params, so only llama's
    stages remain and every dep is produced by a stage that is still in the graph."""
    import shutil
    import subprocess

    if shutil.which("dvc") is None:
        pytest.skip("needs dvc")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    narrowed = yaml.safe_load((tmp_path / "params.yaml").read_text())
    narrowed["pretrain"]["archs"] = ["llama"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(narrowed, sort_keys=False))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    listed = subprocess.run(["dvc", "stage", "list", "--name-only"], cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    grid = [n for n in names if "@" in n]
    others = ("mamba", "bert", "xlnet")
    assert grid and not [n for n in grid if any(a in n.split("@")[1] for a in others)], grid
    assert any(n.startswith("glue@llama") for n in grid) and any(n.startswith("pretrain@llama") for n in grid)
    # every model or metrics file a stage reads is written by a stage of the narrowed graph
    from dvc.repo import Repo

    with Repo(str(tmp_path)) as repo:
        stages = list(repo.index.stages)
        outs = {str(o.fs_path) for s in stages for o in s.outs}
        for stage in stages:
            for dep in stage.deps:
                path = str(dep.fs_path)
                if "/models/" in path or "/metrics/" in path:
                    assert any(path == o or path.startswith(o + "/") or o.startswith(path + "/") for o in outs), (
                        f"{stage.addressing} reads {path}, which no stage of the narrowed graph writes"
                    )
