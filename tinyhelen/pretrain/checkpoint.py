"""Resumable training checkpoints in a git-ignored run folder (never DVC outputs: they would bloat the cache).

    <run_dir>/checkpoint-0000100/
        model.pt  optimizer.pt  scheduler.pt  rng.pt (one RNG state per process)  state.json

`state.json` holds the step, the data position, the loss accumulators, the curve rows so far, the elapsed
time and the run's fingerprint (a hash of everything that shapes the result), so a resumed run continues
exactly where the checkpoint left off, and a checkpoint of a different run is never picked up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_dir, write_json

log = logging.getLogger(__name__)

PREFIX = "checkpoint-"


def fingerprint(tree: Any) -> str:
    """SHA-256 of a JSON-able tree (sorted keys): equal fingerprints mean the same run."""
    return hashlib.sha256(json.dumps(tree, sort_keys=True, default=str).encode()).hexdigest()


def rng_state() -> dict[str, Any]:
    """This process's Python, NumPy, torch CPU (and CUDA) generator states."""
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: str | Path, step: int, *, model, optimizer, scheduler, rng_states: list, state: dict[str, Any], keep: int
) -> Path:
    """Write `checkpoint-<step>` atomically (a crash mid-write leaves the older ones intact), then prune.

    Args:
        run_dir: the run folder.
        step: optimizer steps done.
        model: the (unwrapped) model; its state_dict is saved.
        optimizer, scheduler: their state_dicts are saved.
        rng_states: one `rng_state()` per process, in rank order.
        state: JSON-able loop state (must include "fingerprint").
        keep: how many of the newest checkpoints to keep.
    """
    import torch

    path = Path(run_dir) / f"{PREFIX}{step:07d}"
    with atomic_dir(path) as tmp:
        torch.save(model.state_dict(), tmp / "model.pt")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_states, tmp / "rng.pt")
        write_json(tmp / "state.json", {"step": step, **state})
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    log.info("checkpoint %s", path)
    return path


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints in `run_dir`, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.glob(f"{PREFIX}*") if (p / "state.json").exists())


def find_resumable(run_dir: str | Path, run_fingerprint: str) -> Path | None:
    """The newest checkpoint of this very run (same fingerprint), or None."""
    for path in reversed(list_checkpoints(run_dir)):
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            log.warning("ignoring unreadable checkpoint %s", path)
            continue
        if state.get("fingerprint") == run_fingerprint:
            return path
        log.info("not resuming from %s: it belongs to a run with other params or data", path)
    return None


def load_checkpoint(path: str | Path, *, model, optimizer, scheduler, rank: int) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and this process's RNG; return the loop state from state.json."""
    import torch

    path = Path(path)
    try:
        state = json.loads((path / "state.json").read_text())
        model.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))
        scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
        rng_states = torch.load(path / "rng.pt", weights_only=False)
    except (OSError, RuntimeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot resume from this checkpoint: {error}") from None
    if rank >= len(rng_states):
        raise DataError(f"{path}: saved by {len(rng_states)} processes, cannot resume as process {rank}")
    set_rng_state(rng_states[rank])
    return state


def load_start(path: str | Path, *, model, optimizer, scheduler, rank: int) -> dict[str, Any] | None:
    """Load a named starting point (`pretrain.resume_from`) into the model (and optimizer, scheduler, RNG).

    Returns:
        The loop state of a training checkpoint (`checkpoint-<step>/`, continued at its step), or None for a
        saved model folder (`save_pretrained`: its weights only, training starts at step 0).

    Raises:
        DataError: the path is neither, or does not fit the model.
    """
    path = Path(path)
    if (path / "state.json").is_file():
        return load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank)
    if not (path / "config.json").is_file():
        raise DataError(
            f"pretrain.resume_from={path}: neither a training checkpoint (state.json) nor a saved "
            "model folder (config.json)"
        )
    try:
        saved = type(model).from_pretrained(path)
        model.load_state_dict(saved.state_dict())
    except (OSError, RuntimeError, ValueError) as error:
        raise DataError(f"pretrain.resume_from={path}: cannot load its weights into this model: {error}") from None
    return None
