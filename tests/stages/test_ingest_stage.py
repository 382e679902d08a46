"""Stage `ingest` end to end: on the bundled sample, and on ../shared/tinyhelen-data when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stages import ingest as stage
from tests.conftest import REPO_ROOT


def _run(tmp_path: Path, monkeypatch, **data_overrides) -> tuple[dict, Path]:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["data"].update(data_overrides)
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(REPO_ROOT)  # `data.source: sample` is relative to the repo root, as under DVC
    out, metrics = tmp_path / "raw", tmp_path / "ingest.json"
    stage.main(["--out", str(out), "--metrics", str(metrics), "--params", str(params_path)])
    headline = json.loads(metrics.read_text())  # DVC metrics: headlines; the full accounting is stats.json
    full = json.loads((out / "stats.json").read_text())
    assert headline["source"] == full["source"]
    return full, out


def test_ingest_sample(tmp_path, monkeypatch):
    metrics, out = _run(tmp_path, monkeypatch)
    corpus = metrics["corpus"]
    for variant in ("ori", "leaner"):
        for split in ("train", "validation", "test"):
            for genre in ("web", "book", "wiki", "textbook", "conversation", "code", "math"):
                assert corpus[variant][split][genre]["documents"] > 0, (variant, split, genre)
                assert (out / variant / split / f"{genre}.jsonl").exists()
    # every leaner document replays onto an original
    for split, genres in metrics["alignment"].items():
        for genre, row in genres.items():
            assert row["matched"] == row["leaner_ids"], (split, genre)
    ori_words = sum(s["words"] for sp in corpus["ori"].values() for s in sp.values())
    assert ori_words >= 15_000
    assert metrics["missing"] == [] and metrics["damaged"] == [] and metrics["bad_records"] == {}
    assert all(n["examples"] > 0 for task in metrics["glue"].values() for n in task.values())
    assert metrics["instruction"]["leaner"]["documents"] > 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["stage"] == "ingest" and meta["seed"] == 65
    assert meta["config"]["data"]["source"] == "sample"
    assert "torch" in meta["packages"]
    assert not {"git", "created"} & set(meta)  # nothing in an output depends on when or where it ran
    assert "leaner/glue/cola_train.jsonl" in meta["inputs"]


def test_bad_params_exit_2_naming_the_key(tmp_path, monkeypatch, caplog):
    from tinyhelen.core.log import run_cli

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["ingest"]["nosuch"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(SystemExit) as info:
        run_cli(stage.main, ["--params", str(tmp_path / "params.yaml"), "--out", str(tmp_path / "raw")])
    assert info.value.code == 2
    assert "unknown key 'ingest.nosuch'" in caplog.text
    assert not (tmp_path / "raw").exists()


@pytest.mark.shared_data
def test_ingest_shared_release_10m(shared_data, tmp_path, monkeypatch):
    metrics, _ = _run(tmp_path, monkeypatch, source=str(shared_data))
    corpus = metrics["corpus"]
    # counts from the release (spec §1.5)
    assert corpus["leaner"]["validation"]["web"]["documents"] == 179
    assert corpus["ori"]["validation"]["web"]["documents"] == 180
    assert corpus["leaner"]["validation"]["web"]["words"] == 181_178
    assert corpus["ori"]["validation"]["web"]["words"] == 227_108
    assert corpus["ori"]["train"]["wiki"]["documents"] == corpus["leaner"]["train"]["wiki"]["documents"] == 1269
    assert corpus["ori"]["train"]["code"]["documents"] == 2593
    assert corpus["ori"]["train"]["code"]["words"] == 753_616
    assert corpus["ori"]["train"]["math"]["words"] == 127_422
    assert corpus["ori"]["train"]["textbook"]["words"] == 404_761
    assert corpus["leaner"]["test"]["code"]["documents"] == 121
    assert metrics["alignment"]["validation"]["web"] == {"ori_ids": 180, "leaner_ids": 179, "matched": 179}
    assert set(metrics["missing"]) == {
        "ori/10M/train/web",
        "leaner/10M/train/web",
        "leaner/10M/train/code",
        "ori/instruction",
        "leaner/instruction",
        "leaner/glue/mnli_train.jsonl",
        "leaner/glue/qnli_train.jsonl",
        "leaner/glue/qqp_train.jsonl",
        "leaner/glue/sst2_train.jsonl",
    }
    assert metrics["glue"]["cola"] == {
        "train": {"examples": 7443},
        "validation": {"examples": 452},
        "test": {"examples": 453},
    }
    assert metrics["glue"]["mnli"]["validation_mismatched"]["examples"] == 4204
    assert metrics["eval"]["all"]["questions"] == 1594
    assert metrics["eval"]["split-7-8"]["questions"] == 604


@pytest.mark.shared_data
def test_ingest_shared_release_100m_recovers_truncated_wiki(shared_data, tmp_path, monkeypatch):
    metrics, _ = _run(
        tmp_path,
        monkeypatch,
        source=str(shared_data),
        budget="100M",
        variants=["ori"],
        genres=["wiki", "conversation"],
        splits=["train"],
        glue_tasks=[],
        eval_sets=[],
        instructions=False,
    )
    (damaged,) = metrics["damaged"]
    assert damaged["file"] == "ori/100M/train/wiki0003.jsonl.zst"
    assert damaged["records_recovered"] >= 3392  # the spec's count of complete documents before the damage
    assert metrics["corpus"]["ori"]["train"]["wiki"]["documents"] == 1269 + damaged["records_recovered"]
    assert metrics["corpus"]["ori"]["train"]["conversation"]["documents"] == 27 + 224
