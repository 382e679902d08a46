"""Experiment tracking: one MLflow run per stage run, behind a small `MetricLogger` interface.

DVC owns the pipeline, data and final numbers (metrics/*.json); MLflow keeps the per-run view that
`mlflow ui --backend-store-uri sqlite:///mlflow.db` compares. Each run gets flattened params, metrics and
the tags `tinyhelen.stage`, `dvc.exp_name` (DVC_EXP_NAME), `dvc.baseline_rev` (DVC_EXP_BASELINE_REV),
`git.rev` and `git.dirty`.

Environment:
    MLFLOW_TRACKING_URI      store to use; default `sqlite:///<cwd>/mlflow.db` (the repo root under DVC)
    MLFLOW_EXPERIMENT_NAME   experiment; default `tinyhelen`
    TINYHELEN_TRACKING       `off` gives a no-op logger (tests, quick runs)

Secrets never reach the store: any value that contains the value of a secret-looking environment variable
(`*_API_KEY`, `*_TOKEN`, `*SECRET*`, `*PASSWORD*`) is masked before logging.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from tinyhelen.core.config import flatten
from tinyhelen.core.repro import git_info

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "tinyhelen"
_SECRET_NAME = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_MAX_PARAM_LENGTH = 6000


class MetricLogger(Protocol):
    """What stages log through; `MLflowLogger` in real runs, `NullLogger` in tests."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...

    def log_artifact(self, path: str | Path) -> None: ...

    def close(self, failed: bool = False) -> None: ...


class NullLogger:
    """Logs nothing; keeps what it was given so tests can look."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.metrics: list[tuple[dict[str, Any], int | None]] = []
        self.tags: dict[str, Any] = {}
        self.artifacts: list[Path] = []
        self.closed_failed: bool | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(flatten(dict(params)))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.metrics.append((dict(metrics), step))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.tags.update(tags)

    def log_artifact(self, path: str | Path) -> None:
        self.artifacts.append(Path(path))

    def close(self, failed: bool = False) -> None:
        self.closed_failed = failed


def _secret_values() -> list[str]:
    return [v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8]


def scrub(value: Any, secrets: list[str] | None = None) -> str:
    """Render a value as a string with every secret environment value masked as `***`."""
    text = str(value)
    for secret in _secret_values() if secrets is None else secrets:
        text = text.replace(secret, "***")
    return text


def numeric_items(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Flatten metrics and keep the finite numbers (bools, strings and lists are not metrics)."""
    flat = flatten(dict(metrics))
    return {
        key: float(value)
        for key, value in flat.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, or the sqlite store `mlflow.db` in the working directory (the repo root)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def ensure_experiment(client: Any, name: str) -> str:
    """Return the experiment's id, creating it if needed; safe when several processes race to create it."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:
        # Another process created it between our lookup and create.
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


class MLflowLogger:
    """One MLflow run, driven through `MlflowClient` (no global active-run state)."""

    def __init__(self, run_name: str, tags: Mapping[str, Any], tracking_uri: str | None = None,
                 experiment: str | None = None) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri or default_tracking_uri()
        self._client = MlflowClient(tracking_uri=self.tracking_uri)
        self._secrets = _secret_values()
        name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        self.experiment_id = ensure_experiment(self._client, name)
        run = self._client.create_run(self.experiment_id, run_name=run_name, tags=self._clean(tags))
        self.run_id = run.info.run_id
        log.info("MLflow run %s (%s) in %s", run_name, self.run_id, self.tracking_uri)

    def _clean(self, items: Mapping[str, Any]) -> dict[str, str]:
        return {k: scrub(v, self._secrets)[:_MAX_PARAM_LENGTH] for k, v in items.items() if v is not None}

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = sorted(self._clean(flatten(dict(params))).items())
        for start in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            batch = [Param(k, v) for k, v in items[start : start + 100]]
            self._client.log_batch(self.run_id, params=batch)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step or 0) for k, v in sorted(numeric_items(metrics).items())]
        for start in range(0, len(items), 1000):
            self._client.log_batch(self.run_id, metrics=items[start : start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in self._clean(tags).items():
            self._client.set_tag(self.run_id, key, value)

    def log_artifact(self, path: str | Path) -> None:
        """Copy one file into the run's artifact store (e.g. the report page)."""
        self._client.log_artifact(self.run_id, str(path))

    def close(self, failed: bool = False) -> None:
        self._client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def run_tags(stage: str) -> dict[str, Any]:
    """The tags every stage run carries: stage, DVC experiment name and baseline, git revision."""
    git = git_info()
    return {
        "tinyhelen.stage": stage,
        "dvc.exp_name": os.environ.get("DVC_EXP_NAME"),
        "dvc.baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV"),
        "git.rev": git["rev"] or "unknown",
        "git.dirty": git["dirty"],
        "mlflow.source.git.commit": git["rev"],
    }


def tracking_enabled() -> bool:
    return os.environ.get("TINYHELEN_TRACKING", "mlflow").lower() not in ("off", "none", "0", "false")


@contextlib.contextmanager
def open_tracker(stage: str, params: Mapping[str, Any], run_name: str | None = None) -> Iterator[MetricLogger]:
    """Open one tracked run for a stage, log its params and tags, and close it FINISHED or FAILED.

    Args:
        stage: the stage name (also the default run name, prefixed by the DVC experiment name if any).
        params: the config sections this stage used, e.g. `{"seed": 65, "data": cfg.data}`.
        run_name: overrides the run name (e.g. a matrix instance `pretrain@llama-leaner`).
    """
    tags = run_tags(stage)
    if not tracking_enabled():
        tracker: MetricLogger = NullLogger()
        tracker.set_tags(tags)
    else:
        exp = os.environ.get("DVC_EXP_NAME")
        name = run_name or stage
        tracker = MLflowLogger(f"{exp}/{name}" if exp else name, tags)
    tracker.log_params(params)
    try:
        yield tracker
    except BaseException:
        tracker.close(failed=True)
        raise
    tracker.close()
