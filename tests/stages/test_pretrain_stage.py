"""Stage `pretrain` end to end on packs built from the bundled sample (tokenizers and packs made here, as the
pack stage would), with MLflow recording into a temporary sqlite store.

    pytest tests/stages/test_pretrain_stage.py            (one instance; all eight: pytest -m slow)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from stages import pretrain as stage
from tests.conftest import REPO_ROOT
from tests.fixtures.tiny_packs import write_tiny_packs
from tinyhelen.core.io import iter_records

SAMPLE = REPO_ROOT / "data" / "sample"


def sample_texts(variant: str, split: str) -> list[str]:
    texts = []
    for genre in ("web", "book", "textbook", "wiki"):
        for path in sorted((SAMPLE / variant / "10M" / split).glob(f"{genre}0000.jsonl")):
            texts += [r["text"] for _, r in iter_records(path) if isinstance(r.get("text"), str)]
    return texts


@pytest.fixture(scope="module")
def sample_packs(tmp_path_factory) -> Path:
    corpora = {v: {s: sample_texts(v, s) for s in ("train", "validation")} for v in ("leaner", "ori")}
    return write_tiny_packs(tmp_path_factory.mktemp("sample"), corpora, block_size=64, vocab_size=500)


def run_stage(packs: Path, tmp_path: Path, arch: str, corpus: str) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["pretrain"].update(run_dir=str(tmp_path / "runs"), max_steps=10, eval_every=5, log_every=5)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    stage.main(["--arch", arch, "--corpus", corpus, "--packed", str(packs / "packed"), "--tokenizers",
                str(packs / "tokenizers"), "--models", str(out / "models"), "--metrics", str(out / "metrics"),
                "--params", str(params)])
    return out


def check_outputs(out: Path, arch: str, corpus: str) -> dict:
    name = f"{arch}-{corpus}-s65"
    metrics = json.loads((out / "metrics" / f"{name}.json").read_text())
    for key in ("val/loss", "val/perplexity", "val/accuracy", "tokens_seen", "wall_time_s", "tokens_per_s",
                "params/total", "params/non_embedding"):
        assert key in metrics, key
    model_dir = out / "models" / name
    for file in ("config.json", "model.safetensors", "tokenizer.json", "meta.json"):
        assert (model_dir / file).exists(), file
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["stage"] == "pretrain" and meta["arch"] == arch and meta["corpus"] == corpus
    assert any(path.endswith("train.bin") for path in meta["inputs"])
    with open(out / "metrics" / "curves" / name / "train.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [5, 10] and float(rows[0]["tokens"]) > 0
    with open(out / "metrics" / "curves" / name / "val.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [5, 10]
    return metrics


def test_pretrain_stage_on_the_sample_with_mlflow(sample_packs, tmp_path, mlflow_store):
    from mlflow import MlflowClient

    out = run_stage(sample_packs, tmp_path, "llama", "leaner")
    metrics = check_outputs(out, "llama", "leaner")
    client = MlflowClient(mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == "pretrain@llama-leaner-s65" and run.info.status == "FINISHED"
    assert run.data.tags["tinyhelen.arch"] == "llama" and run.data.tags["tinyhelen.stage"] == "pretrain"
    assert run.data.params["pretrain.max_steps"] == "10" and "model.llama.hidden_size" in run.data.params
    assert run.data.metrics["val/loss"] == pytest.approx(metrics["val/loss"])
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert sorted({m.step for m in history}) == [5, 10]


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["leaner", "ori"])
@pytest.mark.parametrize("arch", ["llama", "mamba", "bert", "xlnet"])
def test_every_matrix_instance(sample_packs, tmp_path, arch, corpus):
    check_outputs(run_stage(sample_packs, tmp_path, arch, corpus), arch, corpus)
