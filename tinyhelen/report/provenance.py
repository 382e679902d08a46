"""Under which experiment and params a report's numbers were made, so two reports can be compared.

- Experiment: `DVC_EXP_NAME`, which `dvc exp run` sets for the stages it runs (none under plain `dvc repro`).
- Params: the flattened params file next to the same file at git HEAD (`git show HEAD:./params.yaml`), which is
  the experiment's baseline under `dvc exp run -S ...`. Keys whose values differ are "changed". Without git
  (or a HEAD copy) every key is shown and the page says why.
No dates, times or git revisions go on the page: the report is a DVC output and must not change between runs
of the same experiment.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinyhelen.core.config import flatten


@dataclass(frozen=True)
class ParamChange:
    key: str
    baseline: str
    value: str


@dataclass
class Provenance:
    experiment: str | None
    params_file: str
    baseline: str
    """What the params are compared with (`params.yaml at git HEAD`), or why they are not."""
    changed: list[ParamChange] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    """Every flattened key -> value text."""
    compared: bool = True


def value_text(value: Any) -> str:
    """A param value as one short, stable line (JSON for lists and mappings)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def head_params(params_path: Path) -> dict | None:
    """params.yaml as committed at git HEAD, or None when git, the repo or the file at HEAD is missing."""
    try:
        shown = subprocess.run(
            ["git", "show", f"HEAD:./{params_path.name}"],
            cwd=params_path.parent or ".",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if shown.returncode != 0:
        return None
    try:
        loaded = yaml.safe_load(shown.stdout)
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None


def collect_provenance(params_path: str | Path, params: dict, display_name: str = "params.yaml") -> Provenance:
    """The experiment name and the params (changed ones vs git HEAD) of this run.

    Args:
        params_path: the params file the run used.
        params: its parsed mapping.
        display_name: how the page names the file.
    """
    params_path = Path(params_path)
    current = {k: value_text(v) for k, v in sorted(flatten(params).items())}
    head = head_params(params_path.resolve())
    if head is None:
        return Provenance(
            os.environ.get("DVC_EXP_NAME"),
            display_name,
            f"no {display_name} at git HEAD to compare with: every key is listed",
            params=current,
            compared=False,
        )
    before = {k: value_text(v) for k, v in flatten(head).items()}
    changed = [
        ParamChange(key, before.get(key, "(absent)"), value)
        for key, value in current.items()
        if before.get(key) != value
    ]
    changed += [ParamChange(key, value, "(absent)") for key, value in sorted(before.items()) if key not in current]
    return Provenance(os.environ.get("DVC_EXP_NAME"), display_name, f"{display_name} at git HEAD", changed, current)
