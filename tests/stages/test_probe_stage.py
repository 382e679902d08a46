"""Stages `probe` and `probe_summary` end to end on the bundled sample pairs, with tiny random models in a
temporary models/ folder (tests/fixtures/glue_models.py) and a small composed training text written here."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from stages import probe as probe_stage
from stages import probe_summary as summary_stage
from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import save_model, train_tokenizer
from tinyhelen.core.errors import DataError
from tinyhelen.core.tracking import NullLogger

TEXT = [
    "the dog runs to the river . the girls walk to the shop . the old man lives in a small house .",
    "her father lights the lamps . yesterday he went to the market . the girl saw herself in the water .",
    "this lamp is very bright . these flowers are red . she threw the ball . the man opened the door .",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-stage")
    tokenizers = {"causal": train_tokenizer("causal"), "bert": train_tokenizer("bert")}
    for arch, family in (("llama", "causal"), ("bert", "bert")):
        saved = save_model(root / "models", arch, "leaner", tokenizers[family])
        saved.rename(root / "models" / f"{arch}-leaner-s65")
        tokenizers[family].save_pretrained(root / "tokenizers" / family)
    # an exported intermediate checkpoint (issue 12's layout): weights and config, tokenizer in the parent
    for arch in ("llama", "bert"):
        step = root / "models" / f"{arch}-leaner-s65" / "step-4"
        step.mkdir()
        for name in ("config.json", "model.safetensors"):
            shutil.copy(root / "models" / f"{arch}-leaner-s65" / name, step / name)
    text = root / "composed" / "leaner" / "train.jsonl"
    text.parent.mkdir(parents=True)
    text.write_text("".join(json.dumps({"id": f"d{i}", "genre": "web", "text": t}) + "\n" for i, t in enumerate(TEXT)))
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["pretrain"].update(archs=["llama", "bert"], corpora=["leaner"], seeds=[65])
    params["probe"].update(ngrams=["unigram", "bigram"], steps=[4], bootstrap=200)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root, text


def _probe(root: Path, text: Path, name: str, *what: str) -> dict:
    metrics = root / "metrics" / "probe" / f"{name}.json"
    probe_stage.main(
        [
            *what,
            "--name",
            name,
            "--text",
            str(text),
            "--tokenizers",
            str(root / "tokenizers"),
            "--metrics",
            str(metrics),
            "--out",
            str(root / "results" / "probe" / name),
            "--params",
            str(root / "params.yaml"),
        ]
    )
    return json.loads(metrics.read_text())


def test_probe_and_summary_on_the_sample(workspace, monkeypatch):
    root, text = workspace
    monkeypatch.chdir(REPO_ROOT)  # probe.source: sample is data/sample/probe under the repo root
    llama = _probe(root, text, "llama-leaner-s65", "--model", str(root / "models" / "llama-leaner-s65"))
    bert = _probe(root, text, "bert-leaner-s65", "--model", str(root / "models" / "bert-leaner-s65"))
    _probe(root, text, "llama-random", "--random", "llama")
    _probe(root, text, "bert-random", "--random", "bert")
    unigram = _probe(root, text, "unigram-leaner", "--ngram", "unigram")
    _probe(root, text, "bigram-leaner", "--ngram", "bigram")

    pairs = sum(1 for p in (REPO_ROOT / "data/sample/probe").glob("*.txt") for _ in p.read_text().splitlines()) // 2
    for metrics, kind in ((llama, "causal"), (bert, "mlm"), (unigram, "ngram")):
        assert metrics["kind"] == kind and metrics["overall"]["pairs"] == pairs
        assert set(metrics["phenomena"]) == {
            "agreement_subject_verb",
            "agreement_determiner_noun",
            "anaphor_agreement",
            "argument_structure",
            "irregular",
        }
        assert len(metrics["paradigms"]) == 5
        low, high = metrics["overall"]["ci95"]
        assert low <= metrics["overall"]["accuracy"] <= high
        assert 0 < metrics["filtered"]["overall"]["pairs"] < pairs  # some sample words are not in TEXT
    # the unigram model cannot see word order: no pair of the sample differs only in order, but ties are counted
    assert 0.0 <= unigram["overall"]["tie_rate"] <= 1.0
    assert set(llama["steps"]) == {"4"}
    assert llama["steps"]["4"]["overall"] == llama["overall"]  # the step is a copy of the final weights
    scores = [json.loads(line) for line in (root / "results/probe/llama-leaner-s65/scores.jsonl").open()]
    assert len(scores) == pairs and {"good", "bad", "outcome", "in_vocabulary", "origin"} <= set(scores[0])

    # what the stages log (a NullLogger kept for the test; a real MLflow store costs ~30 s to create here)
    logged = {}

    @contextlib.contextmanager
    def tracker(stage, config, run_name=None):
        logged[run_name or stage] = logger = NullLogger()
        logger.log_params(config)
        yield logger

    monkeypatch.setattr(probe_stage, "open_tracker", tracker)
    monkeypatch.setattr(summary_stage, "open_tracker", tracker)
    again = _probe(root, text, "llama-leaner-s65", "--model", str(root / "models" / "llama-leaner-s65"))
    assert again == llama  # deterministic, no times

    summary_path = root / "metrics" / "probe_summary.json"
    summary_stage.main(
        [
            "--metrics-dir",
            str(root / "metrics" / "probe"),
            "--summary",
            str(summary_path),
            "--out",
            str(root / "results" / "probe_summary"),
            "--params",
            str(root / "params.yaml"),
        ]
    )
    summary = json.loads(summary_path.read_text())
    assert list(summary["models"]) == [
        "llama-leaner-s65",
        "bert-leaner-s65",
        "llama-random",
        "bert-random",
        "unigram-leaner",
        "bigram-leaner",
    ]
    assert set(summary["models"]["llama-leaner-s65"]) == {
        "accuracy",
        "ci95",
        "tie_rate",
        "filtered_accuracy",
        "filtered_pairs",
    }  # the headline; the phenomena are in the details file
    details = json.loads((root / "results" / "probe_summary" / "summary.json").read_text())
    assert "irregular" in details["models"]["llama-leaner-s65"]["phenomena"]
    table = (root / "results" / "probe_summary" / "table.md").read_text()
    assert "| unigram-leaner |" in table and "irregular" in table
    assert (root / "results" / "probe_summary" / "plot.png").read_bytes()[:4] == b"\x89PNG"

    assert set(logged) == {"probe@llama-leaner-s65", "probe_summary"}
    run = logged["probe@llama-leaner-s65"]
    assert run.tags["probe.kind"] == "causal" and run.params["probe.source"] == "sample"
    assert run.metrics[0][0]["accuracy"] == llama["overall"]["accuracy"] and "sentences_per_s" in run.metrics[0][0]
    assert logged["probe_summary"].metrics[0][0]["unigram-leaner.accuracy"] == unigram["overall"]["accuracy"]


def test_probe_stage_rejects_a_malformed_source_and_a_missing_step(workspace, tmp_path, monkeypatch):
    root, text = workspace
    bad = tmp_path / "pairs"
    bad.mkdir()
    (bad / "case-x.txt").write_text("he saw I .\nhe saw me .\nI saw him .\n")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["probe"]["source"] = str(bad)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(DataError, match=r"case-x.txt:3: odd number of lines"):
        probe_stage.main(
            [
                "--ngram",
                "unigram",
                "--name",
                "u",
                "--text",
                str(text),
                "--params",
                str(tmp_path / "params.yaml"),
                "--metrics",
                str(tmp_path / "m.json"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
    monkeypatch.chdir(REPO_ROOT)
    params["probe"].update(source="sample", steps=[99])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(DataError, match="step-99: no exported checkpoint"):
        probe_stage.main(
            [
                "--model",
                str(root / "models" / "llama-leaner-s65"),
                "--name",
                "x",
                "--text",
                str(text),
                "--params",
                str(tmp_path / "params.yaml"),
                "--metrics",
                str(tmp_path / "m.json"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
    assert not (tmp_path / "m.json").exists()
