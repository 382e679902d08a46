"""Experiment tracking: one MLflow run per stage run, behind a small `MetricLogger` interface.

DVC owns the pipeline, data and final numbers (metrics/*.json); MLflow keeps the per-run view that
`mlflow ui --backend-store-uri sqlite:///mlflow.db` compares. Each run gets flattened params, metrics and
the tags `tinyhelen.stage`, `dvc.exp_name` (DVC_EXP_NAME), `dvc.baseline_rev` (DVC_EXP_BASELINE_REV),
`git.rev` and `git.dirty`.

The run tree. One pipeline invocation (`dvc repro`, `dvc exp run`, one queued experiment) is one MLflow
parent run named after the DVC experiment (`repro-<rev>` for a plain `dvc repro`), tagged
`tinyhelen.parent=true`; every stage instance it runs is a child run (`mlflow.parentRunId`), and a stage can
open grandchildren (`tracker.child(...)`: GLUE's learning-rate x seed runs). Every run of the tree carries
`dvc.exp_name` and `tinyhelen.invocation`, so `tags.dvc.exp_name = 'bushy-lamb'` finds all of it (and
`tags.tinyhelen.invocation = '...'` the tree of a plain `dvc repro`). Stages are separate processes, so
they find their parent by an invocation id:

    TINYHELEN_INVOCATION     when set, the id itself (group stages run by hand or by another driver)
    otherwise, under DVC     (DVC_STAGE is set) the nearest ancestor process that is `dvc ...`
                             (`dvc repro`, `dvc exp run`, or the `dvc exp exec-run` of a queued experiment):
                             `<host>:<pid>:<start time>`, unique per invocation and the same for all its stages

The first stage of an invocation creates the parent (under the store's file lock, so concurrent stages
create one) and logs the whole params.yaml on it, so experiments compare side by side; later stages find it by
the tag `tinyhelen.invocation`. A stage run outside DVC with no
TINYHELEN_INVOCATION is a top-level run, as before. The parent is FINISHED after each stage that ends well
(RUNNING again while the next one runs) and FAILED when a stage fails.

The store. A new sqlite store is created and migrated once, under a file lock (`<store>.lock`), before any
run writes, so queued experiments started together (`dvc queue start -j 2`) do not race on the schema
migration. Without MLFLOW_TRACKING_URI the store is the `mlflow.db` of the repo the run belongs to: DVC_ROOT
(DVC points it at the origin repo even inside a queued experiment's temporary copy), else the repo above a
`.dvc/tmp/exps/...` copy, else the working directory. Artifacts (plots, model cards, reports) go to
`mlartifacts/` beside the sqlite store. The experiment is tagged for MLflow's model-training view
(`mlflow.experimentKind=custom_model_development`), not the GenAI one.

Environment:
    MLFLOW_TRACKING_URI      store to use; default `sqlite:///<origin repo>/mlflow.db`
    MLFLOW_EXPERIMENT_NAME   experiment; default `tinyhelen`
    TINYHELEN_TRACKING       `off` gives a no-op logger (tests, quick runs)
    TINYHELEN_INVOCATION     groups stage runs under one parent (see above)

Secrets never reach the store: any value that contains the value of a secret-looking environment variable
(`*_API_KEY`, `*_TOKEN`, `*SECRET*`, `*PASSWORD*`) is masked before logging.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from tinyhelen.core.config import flatten
from tinyhelen.core.repro import git_info

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "tinyhelen"
_SECRET_NAME = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_MAX_PARAM_LENGTH = 6000
#: The experiment tag that makes MLflow's UI open the experiment in its model-training view.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
PARENT_TAG = "tinyhelen.parent"
INVOCATION_TAG = "tinyhelen.invocation"
_LOCK_TIMEOUT_S = 600


class MetricLogger(Protocol):
    """What stages log through; `MLflowLogger` in real runs, `NullLogger` in tests."""

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None: ...

    def set_tags(self, tags: Mapping[str, Any]) -> None: ...

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None: ...

    def child(self, run_name: str, tags: Mapping[str, Any] | None = None) -> MetricLogger: ...

    def close(self, failed: bool = False) -> None: ...


class NullLogger:
    """Logs nothing; keeps what it was given so tests can look."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.metrics: list[tuple[dict[str, Any], int | None]] = []
        self.tags: dict[str, Any] = {}
        self.artifacts: list[tuple[str, str | None]] = []
        self.children: dict[str, NullLogger] = {}
        self.closed_failed: bool | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.params.update(flatten(dict(params)))

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.metrics.append((dict(metrics), step))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.tags.update(tags)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self.artifacts.append((str(path), artifact_path))

    def child(self, run_name: str, tags: Mapping[str, Any] | None = None) -> NullLogger:
        child = NullLogger()
        child.set_tags(tags or {})
        self.children[run_name] = child
        return child

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


def origin_repo_root(cwd: str | Path | None = None) -> Path:
    """The repo a run belongs to, also from inside a DVC experiment's temporary copy.

    DVC_ROOT first (DVC sets it for every stage command, and points it at the origin repo in a queued or
    `--temp` experiment), then the repo above a `<repo>/.dvc/tmp/exps/<copy>` working directory, then `cwd`.
    """
    root = os.environ.get("DVC_ROOT")
    if root:
        return Path(root)
    here = Path(cwd or Path.cwd()).resolve()
    parts = here.parts
    for index in range(len(parts) - 3):
        if parts[index : index + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:index])
    return here


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, or the sqlite store `mlflow.db` at the root of the origin repo."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{origin_repo_root() / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///...` URI (None for other stores)."""
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def store_lock(uri: str):
    """An inter-process lock for one tracking store: `<db>.lock` beside a sqlite file, else in the temp dir."""
    from filelock import FileLock

    path = sqlite_path(uri)
    if path is not None:
        lock_path = path.with_name(path.name + ".lock")
    else:
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"tinyhelen-mlflow-{digest}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(lock_path), timeout=_LOCK_TIMEOUT_S)


_PREPARED: set[str] = set()


def prepare_store(uri: str):
    """Create and migrate the store once, under its file lock, before any run writes; return a client.

    MLflow creates a missing sqlite schema by running its alembic migrations on first use; two processes doing
    that at once on a fresh file fail (`table _alembic_tmp_experiments already exists`). Under the lock the
    first process migrates and the others then find the schema at head.
    """
    from mlflow import MlflowClient

    if uri in _PREPARED:
        return MlflowClient(tracking_uri=uri)
    path = sqlite_path(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)  # opens the store: creates and migrates a new schema
        client.search_experiments(max_results=1)
    _PREPARED.add(uri)
    return client


def artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps artifacts: `mlartifacts/` beside a sqlite store (else the store's default,
    which for sqlite would be `./mlruns` of whatever directory the first run started in)."""
    path = sqlite_path(uri)
    return (path.resolve().parent / "mlartifacts").as_uri() if path is not None else None


def ensure_experiment(client: Any, name: str, artifact_location: str | None = None) -> str:
    """Return the experiment's id, creating it if needed; safe when several processes race to create it.

    The experiment is tagged `mlflow.experimentKind=custom_model_development` (MLflow's model-training view).
    """
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            experiment_id = client.create_experiment(name, artifact_location=artifact_location, tags=EXPERIMENT_KIND)
        except MlflowException:
            # Another process created it between our lookup and create.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
        else:
            return experiment_id
    for key, value in EXPERIMENT_KIND.items():
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment.experiment_id


def _is_dvc(cmdline: list[str]) -> bool:
    """`dvc ...`, `python .../bin/dvc ...` or `python -m dvc ...`."""
    names = [os.path.basename(arg) for arg in cmdline[:2]]
    return "dvc" in names or cmdline[1:3] == ["-m", "dvc"]


def invocation_id() -> str | None:
    """What identifies this pipeline invocation to every stage it runs (see the module doc); None outside DVC."""
    explicit = os.environ.get("TINYHELEN_INVOCATION")
    if explicit:
        return explicit
    if not os.environ.get("DVC_STAGE"):
        return None
    import psutil

    try:
        for process in psutil.Process().parents():
            try:
                if _is_dvc(process.cmdline()):
                    return f"{socket.gethostname()}:{process.pid}:{process.create_time():.3f}"
            except psutil.Error:
                continue
    except psutil.Error:
        return None
    return None


def parent_run_name() -> str:
    """The DVC experiment's name, or `repro-<short git rev>` for a plain `dvc repro`."""
    exp = os.environ.get("DVC_EXP_NAME")
    if exp:
        return exp
    rev = os.environ.get("DVC_EXP_BASELINE_REV") or git_info(origin_repo_root())["rev"] or "workspace"
    return f"repro-{rev[:7]}"


def find_or_create_parent(client: Any, experiment_id: str, invocation: str, uri: str, tags: Mapping[str, Any]) -> str:
    """The parent run of this invocation: found by its tag, or created (once, under the store lock)."""
    query = f"tags.`{INVOCATION_TAG}` = '{invocation}' and tags.`{PARENT_TAG}` = 'true'"
    with store_lock(uri):
        found = client.search_runs([experiment_id], filter_string=query, max_results=1)
        if found:
            return found[0].info.run_id
        parent_tags = {k: str(v) for k, v in tags.items() if v is not None and k != "tinyhelen.stage"}
        parent_tags.update({PARENT_TAG: "true", INVOCATION_TAG: invocation, "tinyhelen.stage": "pipeline"})
        run = client.create_run(experiment_id, run_name=parent_run_name(), tags=parent_tags)
        _log_pipeline_params(client, run.info.run_id)
        log.info("MLflow parent run %s (%s) for this pipeline invocation", run.info.run_name, run.info.run_id)
        return run.info.run_id


def _log_pipeline_params(client: Any, run_id: str, path: str | Path = "params.yaml") -> None:
    """The invocation's whole params file on its parent run, so experiments compare side by side."""
    import yaml
    from mlflow.entities import Param

    path = Path(path)
    if not path.is_file():
        return
    try:
        flat = flatten(yaml.safe_load(path.read_text()) or {})
    except yaml.YAMLError:
        return  # the stage itself reports a broken params file
    secrets = _secret_values()
    items = sorted((k, scrub(v, secrets)[:_MAX_PARAM_LENGTH]) for k, v in flat.items())
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=[Param(k, v) for k, v in items[start : start + 100]])


class MLflowLogger:
    """One MLflow run, driven through `MlflowClient` (no global active-run state).

    Args:
        run_name: the run's name.
        tags: its tags.
        tracking_uri: the store (default `default_tracking_uri()`).
        experiment: the experiment name (default MLFLOW_EXPERIMENT_NAME or `tinyhelen`).
        parent: None = find this invocation's parent run (see the module doc), "" = no parent, or a run id.
    """

    def __init__(
        self,
        run_name: str,
        tags: Mapping[str, Any],
        tracking_uri: str | None = None,
        experiment: str | None = None,
        parent: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        self._client = prepare_store(self.tracking_uri)
        self._secrets = _secret_values()
        name = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        self.experiment_id = ensure_experiment(self._client, name, artifact_location(self.tracking_uri))
        self._tags = self._clean(tags)
        if parent is None:
            invocation = invocation_id()
            parent = (
                find_or_create_parent(self._client, self.experiment_id, invocation, self.tracking_uri, self._tags)
                if invocation
                else ""
            )
            if invocation:  # the whole tree carries it (a plain `dvc repro` has no experiment name to search by)
                self._tags[INVOCATION_TAG] = invocation
        self.parent_run_id = parent or None
        run_tags = dict(self._tags)
        if self.parent_run_id:
            run_tags["mlflow.parentRunId"] = self.parent_run_id
            self._client.update_run(self.parent_run_id, status="RUNNING")
        run = self._client.create_run(self.experiment_id, run_name=run_name, tags=run_tags)
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
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, v, now, step or 0) for k, v in sorted(numeric_items(metrics).items())]
        for start in range(0, len(items), 1000):
            self._client.log_batch(self.run_id, metrics=items[start : start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in self._clean(tags).items():
            self._client.set_tag(self.run_id, key, value)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        """Copy a file (or a folder's files) into the run's artifacts; a missing path is skipped with a warning."""
        path = Path(path)
        if not path.exists():
            log.warning("not logging artifact %s: no such file", path)
            return
        if path.is_dir():
            self._client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def child(self, run_name: str, tags: Mapping[str, Any] | None = None) -> MLflowLogger:
        """A nested run below this one (same store and experiment), carrying this run's tags plus `tags`."""
        return MLflowLogger(
            run_name,
            {**self._tags, **(tags or {})},
            tracking_uri=self.tracking_uri,
            experiment=self._client.get_experiment(self.experiment_id).name,
            parent=self.run_id,
        )

    def close(self, failed: bool = False) -> None:
        status = "FAILED" if failed else "FINISHED"
        self._client.set_terminated(self.run_id, status=status)
        if self.parent_run_id:
            parent = self._client.get_run(self.parent_run_id)
            if parent.data.tags.get(PARENT_TAG) == "true":  # the invocation's parent reflects its last stage
                self._client.set_terminated(self.parent_run_id, status=status, end_time=int(time.time() * 1000))


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
        # below a parent run named after the experiment, the stage name alone; a top-level run says both
        tracker = MLflowLogger(name if invocation_id() or not exp else f"{exp}/{name}", tags)
    tracker.log_params(params)
    try:
        yield tracker
    except BaseException:
        tracker.close(failed=True)
        raise
    tracker.close()
