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


def run_stage(packs: Path, tmp_path: Path, arch: str, corpus: str, **pretrain) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["pretrain"].update(
        {"run_dir": str(tmp_path / "runs"), "max_steps": 10, "eval_every": 5, "log_every": 5, **pretrain}
    )
    params = tmp_path / "params.yaml"
    params.parent.mkdir(parents=True, exist_ok=True)
    params.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"
    stage.main(
        [
            "--arch",
            arch,
            "--corpus",
            corpus,
            "--packed",
            str(packs / "packed"),
            "--tokenizers",
            str(packs / "tokenizers"),
            "--models",
            str(out / "models"),
            "--metrics",
            str(out / "metrics"),
            "--params",
            str(params),
        ]
    )
    return out


def check_outputs(out: Path, arch: str, corpus: str, steps: list[int] = (5, 10)) -> dict:
    name = f"{arch}-{corpus}-s65"
    metrics = json.loads((out / "metrics" / f"{name}.json").read_text())
    for key in ("val/loss", "val/perplexity", "val/accuracy", "tokens_seen", "params/total", "params/non_embedding"):
        assert key in metrics, key
    assert not {"wall_time_s", "tokens_per_s", "train_time_s"} & set(metrics)  # timings go to MLflow only
    model_dir = out / "models" / name
    for file in ("config.json", "model.safetensors", "tokenizer.json", "meta.json", "README.md"):
        assert (model_dir / file).exists(), file
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["stage"] == "pretrain" and meta["arch"] == arch and meta["corpus"] == corpus
    assert any(path.endswith("train.bin") for path in meta["inputs"])
    with open(out / "metrics" / "curves" / name / "train.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows][-len(steps) :] == list(steps) and float(rows[0]["tokens"]) > 0
    with open(out / "metrics" / "curves" / name / "val.csv") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)][-len(steps) :] == list(steps)
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
    assert sorted(m.step for m in history) == [5, 10]  # the last step once, not twice
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val/loss")) == [5, 10]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "model_card")}
    assert artifacts == {"model_card/README.md", "model_card/meta.json"}

    assert run.data.metrics["tokens_per_s"] > 0  # the timings are in the run, not in the outputs
    card = (out / "models" / "llama-leaner-s65" / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["library_name"] == "transformers" and header["pipeline_tag"] == "text-generation"
    assert header["license"] == "mit" and "corpus-leaner" in header["tags"]
    assert f"Tokens seen: {metrics['tokens_seen']:,}" in card
    assert f"{metrics['params/total']:,} in total" in card
    assert f"| `val/loss` | {round(metrics['val/loss'], 4)} |" in card
    assert "AutoModelForCausalLM.from_pretrained(path)" in card and "wall_time" not in card


def test_resume_from_a_named_checkpoint_or_model_folder(sample_packs, tmp_path):
    """`pretrain.resume_from`: a checkpoint continues at its step (here to extend the run); a model folder gives
    the starting weights; both are recorded in meta.json and the card."""
    first = run_stage(sample_packs, tmp_path / "a", "llama", "leaner", save_every=8)
    checkpoint = tmp_path / "a" / "runs" / "llama-leaner-s65" / "checkpoint-0000008"
    assert (checkpoint / "state.json").exists()

    longer = run_stage(sample_packs, tmp_path / "b", "llama", "leaner", max_steps=12, resume_from=str(checkpoint))
    metrics = check_outputs(longer, "llama", "leaner", steps=[10, 12])
    meta = json.loads((longer / "models" / "llama-leaner-s65" / "meta.json").read_text())
    assert meta["started_from"] == {"path": str(checkpoint), "kind": "checkpoint", "step": 8}
    assert str(checkpoint / "model.pt") in meta["inputs"] and metrics["tokens_seen"] == 12 * 8 * 64
    assert "at step 8" in (longer / "models" / "llama-leaner-s65" / "README.md").read_text()

    weights = first / "models" / "llama-leaner-s65"
    branch = run_stage(
        sample_packs,
        tmp_path / "c",
        "llama",
        "leaner",
        resume_from=str(weights),
        lr={"llama": 1e-3, "mamba": 5e-3, "bert": 1e-3, "xlnet": 5e-4},
    )
    meta = json.loads((branch / "models" / "llama-leaner-s65" / "meta.json").read_text())
    assert meta["started_from"] == {"path": str(weights), "kind": "weights", "step": 0}
    scratch = json.loads((first / "metrics" / "llama-leaner-s65.json").read_text())
    assert check_outputs(branch, "llama", "leaner")["val/loss"] < scratch["val/loss"]  # trained on from there


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["leaner", "ori"])
@pytest.mark.parametrize("arch", ["llama", "mamba", "bert", "xlnet"])
def test_every_matrix_instance(sample_packs, tmp_path, arch, corpus):
    check_outputs(run_stage(sample_packs, tmp_path, arch, corpus), arch, corpus)
