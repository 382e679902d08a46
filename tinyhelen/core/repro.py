"""Reproducibility: seeding, the run fingerprint (git rev, dirty flag, package versions) and meta.json.

Every stage writes `meta.json` beside its outputs (`write_meta`): the resolved config, the seed, the git
revision and whether the tree was dirty, the versions of the packages that shape results, and the SHA-256
of each input file, so an output can always be traced to exactly what made it.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import os
import platform
import random
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from tinyhelen.core.config import to_plain
from tinyhelen.core.io import write_json

log = logging.getLogger(__name__)

#: Packages whose versions can change a stage's results.
TRACKED_PACKAGES = (
    "tinyhelen", "torch", "transformers", "tokenizers", "datasets", "accelerate", "huggingface_hub",
    "numpy", "zstandard", "ijson", "pydantic", "dvc", "mlflow", "openai", "spacy", "nltk", "pysbd",
    "textstat", "wordfreq", "datasketch", "scikit-learn", "scipy", "mamba-ssm", "causal-conv1d",
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


def write_meta(
    out_dir: str | Path,
    *,
    stage: str,
    config: Mapping[str, Any] | BaseModel,
    seed: int,
    inputs: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write `<out_dir>/meta.json` describing how the outputs in `out_dir` were made.

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
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": to_plain(config),
        "seed": seed,
        "git": git_info(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "inputs": dict(sorted(inputs.items())),
        **(dict(extra) if extra else {}),
    }
    path = Path(out_dir) / "meta.json"
    write_json(path, meta)
    return path
