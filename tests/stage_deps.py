"""The code deps of every DVC stage, from its entry point's import closure (resolved with `ast`).

A stage's `deps:` in dvc.yaml must list exactly its entry point `stages/<name>.py` and every `tinyhelen` module
it imports, directly or not (every import form: `import a.b`, `from a import b` where `b` is a submodule,
relative imports, imports inside functions), minus the modules in `NOT_DEPS`, which never shape an output and
are not followed. `tests/test_contracts.py` checks this; to print the YAML block to paste:

    python -m tests.stage_deps            # every stage
    python -m tests.stage_deps pretrain   # one stage
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Logging, tracking and params assembly never shape an output: editing them must not re-run the pipeline,
#: and their own imports are not followed (params.py imports every phase's config).
NOT_DEPS = frozenset({"tinyhelen/core/log.py", "tinyhelen/core/tracking.py", "tinyhelen/params.py"})
CODE_ROOTS = ("tinyhelen", "stages")
#: Stages whose output is the validation of the whole params file: they follow params.py into every phase's
#: config module (a changed rule must re-run them).
VALIDATES_PARAMS = frozenset({"stages.validate"})


def module_file(module: str) -> str | None:
    """`tinyhelen.core.io` -> `tinyhelen/core/io.py` (a package's `__init__.py`), or None outside the repo."""
    if module.split(".")[0] not in CODE_ROOTS:
        return None
    base = REPO_ROOT / module.replace(".", "/")
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py").relative_to(REPO_ROOT).as_posix()
    if (base / "__init__.py").is_file():
        return (base / "__init__.py").relative_to(REPO_ROOT).as_posix()
    return None


def _imported_modules(path: str) -> set[str]:
    tree = ast.parse((REPO_ROOT / path).read_text(encoding="utf-8"), filename=path)
    package = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    if not path.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            parts = base.split(".")
            found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            found.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule, when it is one
    return found


def holds_code(path: str) -> bool:
    """Whether a file holds more than a docstring (package `__init__.py` files that do not are left out)."""
    body = ast.parse((REPO_ROOT / path).read_text(encoding="utf-8")).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


@cache
def import_closure(module: str) -> frozenset[str]:
    return _closure(module, NOT_DEPS - ({"tinyhelen/params.py"} if module in VALIDATES_PARAMS else set()))


def _closure(module: str, not_deps: frozenset[str]) -> frozenset[str]:
    """Repo files that importing `module` runs: its imports followed recursively, every parent package's
    `__init__.py` included when it holds code (tinyhelen/__init__.py sets the portable CPU numerics), minus
    `NOT_DEPS` (not followed)."""
    start = module_file(module)
    seen: set[str] = set()
    todo = [start] if start else []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        names = _imported_modules(path)
        names |= {".".join(n.split(".")[:i]) for n in list(names) for i in range(1, n.count(".") + 1)}
        for name in names:
            target = module_file(name)
            if target and target not in seen and target not in not_deps:
                todo.append(target)
    return frozenset(p for p in seen if not p.endswith("__init__.py") or holds_code(p))


def stage_module(stage: dict) -> str:
    match = re.match(r"python -m ([\w.]+)", " ".join(stage["cmd"].split()))
    assert match, f"cmd should be 'python -m stages.<name> ...', got {stage['cmd']!r}"
    return match.group(1)


def code_deps(stage: dict) -> list[str]:
    """The `.py` deps a stage must list, sorted (the entry point first)."""
    module = stage_module(stage)
    entry = module_file(module)
    return [entry, *sorted(import_closure(module) - {entry})]


def listed_code_deps(stage: dict) -> set[str]:
    return {d for d in stage.get("deps", []) if d.endswith(".py") and d.split("/")[0] in CODE_ROOTS}


def yaml_block(name: str, stage: dict) -> str:
    other = [d for d in stage.get("deps", []) if d not in listed_code_deps(stage)]
    return yaml.safe_dump({name: {"deps": code_deps(stage) + other}}, sort_keys=False, width=120)


def main(argv: list[str]) -> None:
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    for name in argv or sorted(stages):
        print(yaml_block(name, stages[name]))


if __name__ == "__main__":
    main(sys.argv[1:])
