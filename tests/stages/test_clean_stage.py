"""Stage `clean` end to end: on the bundled sample, and on ../shared/tinyhelen-data when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stages import clean as clean_stage
from stages import ingest as ingest_stage
from tests.conftest import REPO_ROOT


def _params(tmp_path: Path, **data) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["data"].update(data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(tmp_path: Path, monkeypatch, **data) -> tuple[dict, Path]:
    params = _params(tmp_path, **data)
    monkeypatch.chdir(REPO_ROOT)
    ingest_stage.main(
        ["--out", str(tmp_path / "raw"), "--metrics", str(tmp_path / "ingest.json"), "--params", str(params)]
    )
    clean_stage.main(
        [
            "--raw",
            str(tmp_path / "raw"),
            "--out",
            str(tmp_path / "clean"),
            "--metrics",
            str(tmp_path / "clean.json"),
            "--plots",
            str(tmp_path / "plots"),
            "--params",
            str(params),
        ]
    )
    headline = json.loads((tmp_path / "clean.json").read_text())
    assert set(headline) == {"totals", "bad_records"}  # DVC metrics: headlines; the accounting is stats.json
    full = json.loads((tmp_path / "clean" / "stats.json").read_text())
    assert full["totals"] == headline["totals"]
    return full, tmp_path / "clean"


def test_clean_sample(tmp_path, monkeypatch):
    metrics, out = _run(tmp_path, monkeypatch)
    web = metrics["corpus"]["ori"]["web"]
    # the sample's planted noise: a duplicate, a near duplicate, a French page, a junk page, boilerplate
    assert web["rejected"]["exact_dedup"] == 1 and web["rejected"]["near_dedup"] == 1
    assert web["rejected"]["language"] == 1 and web["rejected"]["length"] >= 1
    assert web["words_removed"]["boilerplate"] > 0 and web["words_removed"]["private_data"] > 0
    text = (out / "ori" / "train" / "web.jsonl").read_text()
    for noise in ("We use cookies", "4111 1111", "<p>", "&amp;", "192.0.2.44"):
        assert noise not in text, noise
    assert (out / "meta.json").exists() and (out / "rejects.jsonl").exists()
    assert (tmp_path / "plots" / "clean_removed.csv").exists() and (tmp_path / "plots" / "clean_removed.png").exists()
    for variant in ("ori", "leaner"):
        for split in ("train", "validation", "test"):
            assert (out / variant / split / "wiki.jsonl").stat().st_size > 0


@pytest.mark.shared_data
def test_clean_shared_release_10m_ori(shared_data, tmp_path, monkeypatch):
    # validation and test of the 10M ori data (train is covered by bench/clean_throughput.py and -m slow)
    metrics, _ = _run(
        tmp_path,
        monkeypatch,
        source=str(shared_data),
        variants=["ori"],
        splits=["validation", "test"],
        glue_tasks=[],
        eval_sets=[],
        instructions=False,
    )
    corpus = metrics["corpus"]["ori"]
    assert corpus["web"]["documents_in"] == 363
    assert corpus["web"]["words_removed"]["boilerplate"] > 0
    for genre, stats in corpus.items():
        assert stats["documents_in"] == stats["documents_out"] + sum(stats["rejected"].values()), genre
        assert set(stats["rejected"]) == set(stats["words_removed"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_clean_shared_release_10m_ori_all_splits(shared_data, tmp_path, monkeypatch):
    metrics, _ = _run(
        tmp_path,
        monkeypatch,
        source=str(shared_data),
        variants=["ori"],
        glue_tasks=[],
        eval_sets=[],
        instructions=False,
    )
    assert metrics["totals"]["ori"]["documents_in"] == 8040
