"""Stages `instruct_data` and `instruct` end to end: the bundled sample's instructions (ingested here, release
backend), then the 2x2 (pretraining corpus x instruction variant) on tiny start models, in well under a minute.

    pytest tests/stages/test_instruct_stages.py
"""

from __future__ import annotations

import csv
import json
import shutil
import time

import pytest
import yaml

from stages import instruct as instruct_stage
from stages import instruct_data as data_stage
from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import save_model, train_tokenizer
from tinyhelen.core.config import with_changes
from tinyhelen.core.io import iter_records
from tinyhelen.corpus.ingest import ingest
from tinyhelen.params import load_params

SPLITS = ("train", "validation", "test")
WORDS = ("a", "the", "is", "to", "and", "of", "you", "it", "in", "can", "be", "one", "two", "big", "small", "day")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("instruct")
    params = load_params(REPO_ROOT / "params.yaml")
    data = with_changes(params.data, genres=["math"], splits=["train"], glue_tasks=[], eval_sets=[])
    ingest(data, params.ingest, root / "raw")  # the sample's instructions, as the ingest stage writes them
    words = root / "word_list.txt"
    words.write_text("".join(f"{word}\n" for word in WORDS))
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["instruct"].update(run_dir=str(root / "runs"), block_size=160)
    raw["pretrain"].update(device="cpu")
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    data_stage.main(
        [
            "--release",
            str(root / "raw"),
            "--word-list",
            str(words),
            "--out",
            str(root / "data"),
            "--metrics",
            str(root / "metrics" / "instruct_data.json"),
            "--params",
            str(root / "params.yaml"),
        ]
    )
    return {"root": root, "params": root / "params.yaml"}


def test_instruct_data_on_the_sample(built):
    root = built["root"]
    metrics = json.loads((root / "metrics" / "instruct_data.json").read_text())
    ori_source = [r for _, r in iter_records(REPO_ROOT / "data/sample/ori/instruction0000.jsonl")]
    twins = [r for _, r in iter_records(REPO_ROOT / "data/sample/leaner/instruction0000.jsonl")]
    assert metrics["source_records"] == len(ori_source) and metrics["kept"] == len(twins)
    assert metrics["reject_reasons"] == {"not in release": len(ori_source) - len(twins)}
    ids = {}
    for variant in ("ori", "leaner"):
        for split in SPLITS:
            records = [r for _, r in iter_records(root / "data" / variant / f"{split}.jsonl")]
            assert records and all(set(r) == {"id", "instruction", "input", "output"} for r in records)
            ids[(variant, split)] = [r["id"] for r in records]
        assert metrics["variants"][variant]["records"] == len(twins)
    assert all(ids[("ori", s)] == ids[("leaner", s)] for s in SPLITS)
    assert sum(len(ids[("ori", s)]) for s in SPLITS) == len({i for s in SPLITS for i in ids[("ori", s)]})
    published = {t["hash"]: t["output"] for t in twins}
    leaner_train = [r for _, r in iter_records(root / "data" / "leaner" / "train.jsonl")]
    assert all(r["output"] == published[r["id"]] for r in leaner_train)
    # simpler language, measured
    lean, ori = metrics["variants"]["leaner"], metrics["variants"]["ori"]
    assert lean["vocabulary"] < ori["vocabulary"] and lean["list_coverage"] > ori["list_coverage"]
    meta = json.loads((root / "data" / "meta.json").read_text())
    assert meta["stage"] == "instruct_data" and str(REPO_ROOT / "data/sample") not in json.dumps(meta["inputs"])


def test_the_two_by_two_on_the_sample(built, tmp_path):
    root = built["root"]
    tokenizer = train_tokenizer("causal")
    models = tmp_path / "models"
    for corpus in ("leaner", "ori"):
        shutil.move(save_model(models, "llama", corpus, tokenizer), models / f"llama-{corpus}-s65")
    out, metrics_dir = tmp_path / "out", tmp_path / "metrics"
    start = time.perf_counter()
    for corpus in ("leaner", "ori"):
        for variant in ("leaner", "ori"):
            instruct_stage.main(
                [
                    "--arch",
                    "llama",
                    "--corpus",
                    corpus,
                    "--variant",
                    variant,
                    "--models",
                    str(models),
                    "--data",
                    str(root / "data"),
                    "--out",
                    str(out),
                    "--metrics",
                    str(metrics_dir),
                    "--params",
                    str(built["params"]),
                ]
            )
    assert time.perf_counter() - start < 60
    from transformers import AutoModelForCausalLM, AutoTokenizer

    params = load_params(built["params"]).instruct
    steps = [str(s) for s in range(params.export_every, params.max_steps + 1, params.export_every)]
    losses = {}
    for corpus in ("leaner", "ori"):
        for variant in ("leaner", "ori"):
            name = f"llama-{corpus}-s65-{variant}"
            metrics = json.loads((metrics_dir / f"{name}.json").read_text())
            assert list(metrics["checkpoints"]) == steps and metrics["steps"] == params.max_steps
            assert metrics["checkpoints"][steps[-1]]["val/loss"] == metrics["val/loss"]
            assert not {"wall_time_s", "tokens_per_s", "train_time_s"} & set(metrics)  # deterministic only
            losses[name] = metrics["val/loss"]
            folder = out / name
            assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(f"step-{s}" for s in steps)
            for model_dir in (folder, folder / f"step-{steps[0]}"):
                AutoModelForCausalLM.from_pretrained(model_dir)
                AutoTokenizer.from_pretrained(model_dir)
                card = (model_dir / "README.md").read_text()  # a Hugging Face model card, ready for push_to_hub
                assert "library_name: transformers" in card and "instruction-tuned" in card
            meta = json.loads((folder / "meta.json").read_text())
            assert meta["variant"] == variant and meta["start"].endswith(f"llama-{corpus}-s65")
            with open(metrics_dir / "curves" / name / "val.csv") as handle:
                rows = list(csv.DictReader(handle))
            assert [int(r["step"]) for r in rows] == list(
                range(params.eval_every, params.max_steps + 1, params.eval_every)
            )
            assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert len(set(losses.values())) == 4  # four different runs
