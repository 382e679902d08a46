"""Params presets: a yaml file of params.yaml keys, turned into `dvc exp run -S key=value` flags.

    dvc exp run $(python -m tinyhelen.preset presets/paper.yaml)            # the paper's settings
    dvc exp run $(python -m tinyhelen.preset presets/paper.yaml presets/llama-1m.yaml)   # later files win
    python -m tinyhelen.preset --check presets/paper.yaml                   # validate against params.yaml
    python -m tinyhelen.preset --shell presets/paper.yaml                   # shell-quoted, to paste or `eval`

`$(...)` splits its output at whitespace and removes no quotes, so by default every flag is printed without
whitespace: lists as `[a,b]`, mappings as `{"a":1,"b":2}` (quoted keys, which YAML reads). A value that holds whitespace
(a title) cannot pass through `$(...)`: the flags are then printed shell-quoted, with a note to use
`eval "dvc exp run $(python -m tinyhelen.preset ...)"`. `--shell` always prints them shell-quoted.

A preset holds the same nested keys as params.yaml (any subset). Each leaf becomes one `-S` flag with a
YAML-literal value, so lists and mappings keep their type. Applying a preset is validated first: the keys must
exist in params.yaml and the merged result must pass the same strict validation as params.yaml itself.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from tinyhelen.core.config import read_yaml
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import validate_params


def read_preset(path: str | Path) -> dict[str, Any]:
    """A preset file as a nested mapping."""
    path = Path(path)
    raw = read_yaml(path, "preset")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a preset is a mapping of params.yaml keys")
    return raw


def leaves(tree: dict[str, Any], prefix: str = "", shape: Any = None) -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`; lists are leaves.

    With `shape` (params.yaml's mapping), a mapping is split only where params.yaml has a mapping too: a preset
    mapping that replaces a single value (e.g. `pack.block_size: {causal: 1024, bert: 1024, xlnet: 512}` for
    params.yaml's `block_size: 128`) stays one leaf, so it becomes one `-S` flag.
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        below = shape.get(key) if isinstance(shape, dict) else None
        if isinstance(value, dict) and value and (shape is None or isinstance(below, dict)):
            flat.update(leaves(value, name, below))
        else:
            flat[name] = value
    return flat


def apply_preset(params: dict[str, Any], preset: dict[str, Any], source: str = "preset") -> dict[str, Any]:
    """params.yaml's mapping with the preset's leaves set; unknown keys raise `ConfigError` naming them."""
    import copy

    merged = copy.deepcopy(params)
    for key, value in leaves(preset, shape=params).items():
        node = merged
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"{source}: key '{key}' is not in params.yaml")
            node = node[part]
        if not isinstance(node, dict) or parts[-1] not in node:
            raise ConfigError(f"{source}: key '{key}' is not in params.yaml")
        node[parts[-1]] = value
    return merged


def dvc_flags(preset: dict[str, Any], params: dict[str, Any] | None = None) -> list[str]:
    """One `-S key=value` pair per leaf (split along params.yaml's shape when given), the value as a one-line
    YAML literal."""
    return _flags(leaves(preset, shape=params))


def _literal(value: Any) -> str:
    """A one-line YAML literal of `value`, without whitespace where YAML allows (lists and mappings)."""
    if isinstance(value, list):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):  # a quoted key may touch its colon in a flow mapping (YAML 1.1 and 1.2)
        return "{" + ",".join(f"{json.dumps(str(k))}:{_literal(v)}" for k, v in value.items()) + "}"
    literal = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False).strip()
    return literal.removesuffix("\n...").removesuffix("...").strip()


def _flags(flat: dict[str, Any]) -> list[str]:
    flags = []
    for key, value in flat.items():
        flags += ["-S", f"{key}={_literal(value)}"]
    return flags


def shell_line(flags: list[str], quoted: bool = False) -> str:
    """The flags as one line: as they are, for `$(...)`, or shell-quoted (to paste or `eval`)."""
    return " ".join(shlex.quote(flag) for flag in flags) if quoted else " ".join(flags)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the `dvc exp run -S` flags of params presets.")
    parser.add_argument("presets", nargs="+", help="preset yaml files (later ones win)")
    parser.add_argument("--params", default="params.yaml", help="params file the presets must fit")
    parser.add_argument("--check", action="store_true", help="only validate; print nothing")
    parser.add_argument("--shell", action="store_true", help="print the flags shell-quoted (to paste or eval)")
    args = parser.parse_args(argv)
    params = read_yaml(args.params, "params file")
    combined: dict[str, Any] = {}
    for path in args.presets:
        preset = read_preset(path)
        combined.update(leaves(preset, shape=params))
        params = apply_preset(params, preset, path)
    validate_params(params, f"{args.params} + {' + '.join(args.presets)}")
    if args.check:
        return
    flags = _flags(combined)
    spaced = any(re.search(r"\s", flag) for flag in flags)  # such a flag cannot pass through $(...)
    if spaced and not args.shell:
        print(
            "tinyhelen.preset: a value holds whitespace, so the flags are shell-quoted; run them with "
            'eval "dvc exp run $(python -m tinyhelen.preset ...)"',
            file=sys.stderr,
        )
    print(shell_line(flags, quoted=args.shell or spaced))


if __name__ == "__main__":
    from tinyhelen.core.log import run_cli

    run_cli(main, sys.argv[1:])
