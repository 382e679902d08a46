"""Reproducibility: seeding, meta.json, and metrics files that hold only what the computation determines.

Every stage writes `meta.json` beside its outputs (`write_meta`): the resolved config, the seed, the versions
of the packages that shape results, and the SHA-256 of each input file, so an output can always be traced to
exactly what made it. Nothing in it depends on when or where it ran: dates, wall times, throughput, host
names and the git revision go to MLflow (run tags and metrics, see `tinyhelen.core.tracking`) and the log.
So a fresh clone's `dvc repro` reproduces `dvc.lock` byte for byte and leaves `git status` clean.

Metrics files (`write_metrics`) follow the same rule: values under a volatile key (`VOLATILE_KEYS`) are taken
out and handed back for MLflow, and floats are rounded to `METRIC_DIGITS` significant digits.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from tinyhelen.core.config import to_plain
from tinyhelen.core.io import write_json

log = logging.getLogger(__name__)

#: Packages whose versions can change a stage's results.
TRACKED_PACKAGES = (
    "tinyhelen",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "huggingface_hub",
    "numpy",
    "zstandard",
    "ijson",
    "pydantic",
    "dvc",
    "mlflow",
    "openai",
    "spacy",
    "nltk",
    "pysbd",
    "textstat",
    "wordfreq",
    "datasketch",
    "scikit-learn",
    "scipy",
    "mamba-ssm",
    "causal-conv1d",
)


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and (when it is loaded) torch; optionally force deterministic torch kernels.

    Library code must still use explicit generators (`np.random.default_rng(seed)`, `torch.Generator`)
    where order matters; this only pins the global state that third-party code may draw from.
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)


def _git(*args: str, cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_info(cwd: str | Path = ".") -> dict[str, Any]:
    """The current commit and whether tracked files differ from it (None when not in a git checkout)."""
    cwd = Path(cwd)
    rev = _git("rev-parse", "HEAD", cwd=cwd)
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd) if rev else None
    return {"rev": rev, "dirty": bool(status) if status is not None else None}


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of the given distributions (absent ones are left out)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


#: Key names whose values depend on the machine and the moment, never on the computation: they go to MLflow
#: and the log, never into a DVC output or a committed metrics file.
VOLATILE_KEYS = frozenset(
    {
        "seconds",
        "run_seconds",
        "tokenise_seconds",
        "train_seconds",
        "wall_time_s",
        "train_time_s",
        "tokens_per_s",
        "tokens_per_second",
        "train_examples_per_second",
        "elapsed",
        "created",
    }
)
#: Significant digits of the floats in metrics files: enough for any comparison, robust to the last-bit
#: differences of float reductions.
METRIC_DIGITS = 6


def round_floats(tree: Any, digits: int = METRIC_DIGITS) -> Any:
    """Floats (at any depth of dicts and lists) rounded to `digits` significant digits."""
    if isinstance(tree, float):
        return float(f"{tree:.{digits}g}") if tree == tree and abs(tree) != float("inf") else tree
    if isinstance(tree, dict):
        return {key: round_floats(value, digits) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [round_floats(value, digits) for value in tree]
    return tree


def split_volatile(tree: Any, prefix: str = "") -> tuple[Any, dict[str, Any]]:
    """`(tree without volatile keys, with rounded floats; {"a.b.seconds": value} of what was taken out)`."""
    if not isinstance(tree, dict):
        return round_floats(tree), {}
    kept, volatile = {}, {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key in VOLATILE_KEYS:
            volatile[path] = value
            continue
        value_kept, inner = split_volatile(value, path)
        volatile.update(inner)
        if not (inner and isinstance(value_kept, dict) and not value_kept):  # drop what held only timings
            kept[key] = value_kept
    return kept, volatile


def pick(tree: Mapping[str, Any], patterns: Sequence[str]) -> dict[str, Any]:
    """The parts of a nested dict that dotted patterns name (`*` matches any one key), nesting kept:
    `pick(m, ["totals", "*.all.words"])`."""
    picked: dict[str, Any] = {}

    def walk(node: Any, parts: list[str], into: dict[str, Any]) -> None:
        head, rest = parts[0], parts[1:]
        for key in list(node) if head == "*" else [head] if head in node else []:
            if not rest:
                into[key] = node[key]
            elif isinstance(node[key], Mapping):
                walk(node[key], rest, into.setdefault(key, {}))
                if not into[key]:
                    del into[key]

    for pattern in patterns:
        walk(tree, pattern.split("."), picked)
    return picked


def write_metrics(
    path: str | Path,
    metrics: Mapping[str, Any],
    *,
    headline: Sequence[str] | None = None,
    details_path: str | Path | None = None,
) -> dict[str, Any]:
    """Write a stage's metrics file with only what the computation determines.

    Args:
        path: the DVC metrics file (committed): the headline numbers a researcher compares.
        metrics: everything the stage measured.
        headline: dotted patterns (`pick`) of the headline numbers in `metrics` (default: all of it).
        details_path: where the full accounting goes (a data file inside the stage's DVC output).

    Returns:
        The volatile values taken out (`{"dotted.key": value}`), for MLflow.
    """
    stable, volatile = split_volatile(dict(metrics))
    if details_path is not None:
        write_json(details_path, stable)
    write_json(path, pick(stable, headline) if headline else stable)
    return volatile


def write_meta(
    out_dir: str | Path,
    *,
    stage: str,
    config: Mapping[str, Any] | BaseModel,
    seed: int,
    inputs: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `<out_dir>/meta.json` describing how the outputs in `out_dir` were made (deterministic: no
    dates, times or git revision; `extra` is scrubbed of volatile keys).

    Args:
        out_dir: the stage's output folder.
        stage: the stage name.
        config: the resolved config sections the stage used.
        seed: the seed.
        inputs: input path -> SHA-256 of its bytes.
        extra: anything else worth keeping (e.g. a resolved hub revision).

    Returns:
        The path written.
    """
    meta = {
        "stage": stage,
        "config": to_plain(config),
        "seed": seed,
        "python": platform.python_version(),
        "packages": package_versions(),
        "inputs": dict(sorted(inputs.items())),
        **(split_volatile(dict(extra))[0] if extra else {}),
    }
    path = Path(out_dir) / "meta.json"
    write_json(path, meta)
    return path
