"""Tracking: the MLflow run a stage leaves (temporary sqlite store), the no-op logger, secret masking."""

from __future__ import annotations

import pytest

from tinyhelen.core.tracking import NullLogger, numeric_items, open_tracker, scrub


def test_numeric_items_flattens_and_filters():
    metrics = {"corpus": {"ori": {"documents": 3, "ok": True}}, "missing": ["x"], "nan": float("nan"), "v": 1.5}
    assert numeric_items(metrics) == {"corpus.ori.documents": 3.0, "v": 1.5}


def test_scrub_masks_secret_values(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890")
    assert scrub("url?key=sk-test-1234567890") == "url?key=***"
    assert scrub(42) == "42"


def test_null_logger_by_default(params):
    with open_tracker("ingest", {"seed": params.seed, "data": params.data}) as tracker:
        tracker.log_metrics({"a": 1})
    assert isinstance(tracker, NullLogger)
    assert tracker.params["data.source"] == "sample"
    assert tracker.tags["tinyhelen.stage"] == "ingest"
    assert tracker.closed_failed is False


def test_mlflow_run_is_recorded_with_tags(mlflow_store, params, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("DVC_EXP_NAME", "bushy-lamb")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-abcdefgh-secret")
    with open_tracker(
        "ingest", {"seed": params.seed, "data": params.data, "note": {"leak": "tok-abcdefgh-secret"}}
    ) as tracker:
        tracker.log_metrics({"corpus": {"ori": {"train": {"web": {"documents": 7}}}}})
    client = MlflowClient(mlflow_store)
    (experiment,) = [e for e in client.search_experiments() if e.name == "tinyhelen"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "bushy-lamb/ingest"
    assert run.info.status == "FINISHED"
    assert run.data.params["data.source"] == "sample"
    assert run.data.params["seed"] == "65"
    assert run.data.params["note.leak"] == "***"
    assert run.data.metrics["corpus.ori.train.web.documents"] == 7
    tags = run.data.tags
    assert tags["tinyhelen.stage"] == "ingest"
    assert tags["dvc.exp_name"] == "bushy-lamb" and tags["dvc.baseline_rev"] == "abc123"
    assert "git.rev" in tags


def test_failed_stage_marks_run_failed(mlflow_store, params):
    from mlflow import MlflowClient

    with pytest.raises(RuntimeError):
        with open_tracker("ingest", {"seed": params.seed}):
            raise RuntimeError("boom")
    client = MlflowClient(mlflow_store)
    experiment = client.get_experiment_by_name("tinyhelen")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"


def test_experiment_creation_tolerates_a_race(mlflow_store):
    from mlflow import MlflowClient

    from tinyhelen.core.tracking import ensure_experiment

    client = MlflowClient(mlflow_store)
    first = ensure_experiment(client, "race")

    class Racy:
        """Reports the experiment absent once, as a process that lost the race would see it."""

        calls = 0

        def get_experiment_by_name(self, name):
            Racy.calls += 1
            return None if Racy.calls == 1 else client.get_experiment_by_name(name)

        def create_experiment(self, name, **kwargs):
            return client.create_experiment(name, **kwargs)  # raises: it exists already

        def set_experiment_tag(self, experiment_id, key, value):
            client.set_experiment_tag(experiment_id, key, value)

    assert ensure_experiment(Racy(), "race") == first
