"""Stages `vocab`, `tokenizer`, `compose` and `pack` end to end on the bundled sample (ingested into tmp).

data/leaner and data/clean/ori share data/raw's layout and schema, so the ingest output stands in for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from transformers import AutoTokenizer

from stages import compose as compose_stage
from stages import ingest as ingest_stage
from stages import pack as pack_stage
from stages import tokenizer as tokenizer_stage
from stages import vocab as vocab_stage
from tests.conftest import REPO_ROOT
from tinyhelen.tokens.shards import open_blocks


def _params(tmp: Path, **sections) -> str:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for name, changes in sections.items():
        raw[name].update(changes)
    path = tmp / f"params-{len(list(tmp.glob('params-*')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Ingest the sample, then run the four stages with the default params, as `dvc repro` would."""
    tmp = tmp_path_factory.mktemp("stages")
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO_ROOT)  # data.source: sample is relative to the repo root
    try:
        params = _params(tmp, data={"glue_tasks": [], "eval_sets": [], "instructions": False})
        ingest_stage.main(["--out", str(tmp / "raw"), "--metrics", str(tmp / "ingest.json"), "--params", params])
        corpora = ["--leaner", str(tmp / "raw" / "leaner"), "--ori", str(tmp / "raw" / "ori")]
        vocab_stage.main(
            [
                *corpora,
                "--out",
                str(tmp / "vocab"),
                "--metrics",
                str(tmp / "vocab.json"),
                "--plot",
                str(tmp / "vocab.png"),
                "--params",
                params,
            ]
        )
        tokenizer_stage.main(
            [*corpora, "--out", str(tmp / "tokenizers"), "--metrics", str(tmp / "tokenizer.json"), "--params", params]
        )
        compose_stage.main(
            [
                *corpora,
                "--tokenizers",
                str(tmp / "tokenizers"),
                "--out",
                str(tmp / "composed"),
                "--metrics",
                str(tmp / "compose.json"),
                "--params",
                params,
            ]
        )
        pack_stage.main(
            [
                "--composed",
                str(tmp / "composed"),
                "--tokenizers",
                str(tmp / "tokenizers"),
                "--out",
                str(tmp / "packed"),
                "--metrics",
                str(tmp / "pack.json"),
                "--params",
                params,
            ]
        )
    finally:
        mp.undo()
    return tmp


#: A stage's headline metrics file -> its full accounting, `stats.json` in its output folder.
_OUT = {"vocab.json": "vocab", "tokenizer.json": "tokenizers", "compose.json": "composed", "pack.json": "packed"}


def _json(path: Path) -> dict:
    if path.name in _OUT and path.parent == path.parent:
        stats = path.parent / _OUT[path.name] / "stats.json"
        if stats.is_file():  # the DVC metrics hold headlines only (a subset of the same numbers)
            headline = json.loads(path.read_text())
            full = json.loads(stats.read_text())
            assert set(headline) <= set(full)
            return full
    return json.loads(path.read_text())


def test_vocab_on_the_sample(run):
    metrics = _json(run / "vocab.json")
    # the sample's leaner train text has fewer than 2000 distinct words: the list holds them all
    size = metrics["word_list"]["size"]
    assert metrics["word_list"]["source"] == "leaner" and 1000 < size <= 2000
    assert len((run / "vocab" / "word_list.txt").read_text().split()) == size
    for genre in ("web", "book", "wiki", "textbook", "conversation", "code", "all"):
        ori, leaner = metrics["ori"][genre], metrics["leaner"][genre]
        assert leaner["oov_rate"] < ori["oov_rate"], genre  # simplified text stays inside the list
        assert leaner["flesch_reading_ease"] > ori["flesch_reading_ease"], genre
        assert 0 < leaner["distinct_2"] <= 1 and leaner["sentences"] > 0
    assert metrics["ori"]["math"] == metrics["leaner"]["math"]  # math is not simplified
    assert (run / "vocab.png").read_bytes()[:4] == b"\x89PNG"
    assert _json(run / "vocab" / "meta.json")["stage"] == "vocab"


def test_tokenizers_on_the_sample(run):
    metrics = _json(run / "tokenizer.json")
    for family in ("causal", "bert", "xlnet"):
        tokenizer = AutoTokenizer.from_pretrained(run / "tokenizers" / family)
        assert len(tokenizer) == 2000 and metrics["families"][family]["vocab_size"] == 2000
        text = "Water boils at 100°C; ½ of 4 is 2, and 3² = 9."
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text
        per_word = metrics["families"][family]["tokens_per_word"]
        assert per_word["leaner"] < per_word["ori"]  # trained on leaner text, as in the paper
    assert _json(run / "tokenizers" / "meta.json")["inputs"]


def test_compose_on_the_sample(run):
    metrics = _json(run / "compose.json")
    for split in ("train", "validation", "test"):
        entry = metrics["splits"][split]
        assert entry["absent"] == []
        assert set(entry["genres"]) == {"web", "book", "wiki", "textbook", "conversation"}
        assert entry["corpora"]["leaner"]["documents"] == entry["corpora"]["ori"]["documents"] > 0
        assert entry["corpora"]["leaner"]["tokens"] < entry["corpora"]["ori"]["tokens"]
        leaner, ori = (
            [json.loads(line)["id"] for line in (run / "composed" / c / f"{split}.jsonl").open()]
            for c in ("leaner", "ori")
        )
        assert leaner == ori


def test_pack_on_the_sample(run):
    metrics = _json(run / "pack.json")
    assert set(metrics["packs"]) == {f"{c}-{f}" for c in ("leaner", "ori") for f in ("causal", "bert", "xlnet")}
    for name in metrics["packs"]:
        index = _json(run / "packed" / name / "index.json")
        assert index["block_size"] == 128 and index["vocab_size"] == 2000
        for split in ("train", "validation", "test"):
            rows = open_blocks(run / "packed" / name, split)
            assert rows.shape == (index["num_blocks"][split], 128) and len(rows) > 0
            assert int(np.max(rows)) < 2000
    bert = open_blocks(run / "packed" / "leaner-bert", "train")
    assert (bert[:, 0] == 2).all() and (bert[:, -1] == 3).all()  # [CLS] ... [SEP]
    assert _json(run / "packed" / "meta.json")["config"]["pack"]["block_size"] == 128


def test_bad_pack_params_exit_2_before_any_work(run, tmp_path, caplog):
    from tinyhelen.core.log import run_cli

    params = _params(tmp_path, pack={"block_size": 127})
    with pytest.raises(SystemExit) as info:
        run_cli(
            pack_stage.main,
            [
                "--composed",
                str(run / "composed"),
                "--tokenizers",
                str(run / "tokenizers"),
                "--out",
                str(tmp_path / "packed"),
                "--params",
                params,
            ],
        )
    assert info.value.code == 2 and "pack.block_size" in caplog.text
    assert not (tmp_path / "packed").exists()


@pytest.mark.slow
@pytest.mark.shared_data
def test_compose_and_pack_the_shared_10m_release(shared_data, tmp_path):
    """The paper's 10M budget on the shared copy, where web train (and leaner code train) are absent."""
    mp = pytest.MonkeyPatch()
    mp.chdir(REPO_ROOT)
    try:
        params = _params(
            tmp_path,
            data={"source": str(shared_data), "glue_tasks": [], "eval_sets": [], "instructions": False},
            compose={"budget_tokens": 10_000_000},
            pack={"block_size": 1024, "families": ["causal"]},
        )
        ingest_stage.main(
            ["--out", str(tmp_path / "raw"), "--metrics", str(tmp_path / "ingest.json"), "--params", params]
        )
        corpora = ["--leaner", str(tmp_path / "raw" / "leaner"), "--ori", str(tmp_path / "raw" / "ori")]
        tokenizer_stage.main(
            [*corpora, "--out", str(tmp_path / "tok"), "--metrics", str(tmp_path / "t.json"), "--params", params]
        )
        compose_stage.main(
            [
                *corpora,
                "--tokenizers",
                str(tmp_path / "tok"),
                "--out",
                str(tmp_path / "composed"),
                "--metrics",
                str(tmp_path / "compose.json"),
                "--params",
                params,
            ]
        )
        pack_stage.main(
            [
                "--composed",
                str(tmp_path / "composed"),
                "--tokenizers",
                str(tmp_path / "tok"),
                "--out",
                str(tmp_path / "packed"),
                "--metrics",
                str(tmp_path / "pack.json"),
                "--params",
                params,
            ]
        )
    finally:
        mp.undo()
    train = _json(tmp_path / "compose.json")["splits"]["train"]
    assert train["absent"] == ["web"]
    assert sum(row["ratio"] for row in train["genres"].values()) == pytest.approx(0.775, abs=1e-4)
    for genre, row in train["genres"].items():
        assert row["tokens"] >= row["target_tokens"] or row["shortfall"], genre
    assert _json(tmp_path / "compose.json")["splits"]["validation"]["absent"] == []
    rows = open_blocks(tmp_path / "packed" / "leaner-causal", "train")
    assert rows.shape[1] == 1024 and len(rows) > 1000
