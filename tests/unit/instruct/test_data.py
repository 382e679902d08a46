"""instruct_data: the release hash, dedup, hash-order splits shared by both variants, rejects, sources.

pytest tests/unit/instruct/test_data.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.fixtures.sections import instruct_data_sections
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import iter_records
from tinyhelen.core.release import normalise_document
from tinyhelen.instruct.data import assign_splits, build_instruct_data, dedup, read_source, record_id
from tinyhelen.params import validate_params

WORDS = (
    "a",
    "the",
    "is",
    "to",
    "and",
    "of",
    "you",
    "it",
    "in",
    "can",
    "be",
    "one",
    "two",
    "dog",
    "cat",
    "red",
    "sun",
    "name",
    "give",
    "write",
    "say",
    "word",
)


def alpaca(number: int, with_input: bool = False) -> dict:
    """A small Alpaca-schema record written for this test."""
    return {
        "instruction": f"Name thing number {number} you can see in a park.",
        "input": f"The park near house {number}." if with_input else "",
        "output": f"Thing {number} is a red bench by the pond.",
    }


def leaner(record: dict, output: str | None = None) -> dict:
    """The record's Leaner-Instruct twin as ingest stores it (id = hash of the original)."""
    raw = {
        "instruction": "Say one thing in a park.",
        "input": record["input"] and "A park.",
        "output": record["output"].replace("bench", "seat") if output is None else output,
        "hash": record_id(record["instruction"], record["input"], record["output"]),
    }
    return normalise_document(raw, variant="leaner", genre="instruction", split="all", budget_dir="", origin="fixture")


@pytest.fixture
def corpus(tmp_path: Path) -> dict:
    records = [alpaca(i, with_input=i % 3 == 0) for i in range(20)]
    source = records + [records[4], records[7]]  # two exact duplicates
    source.append({"instruction": "Say nothing.", "input": "", "output": " "})  # nothing to learn
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(source, indent=1))
    release = tmp_path / "raw" / "leaner"
    release.mkdir(parents=True)
    twins = [leaner(r) for r in records[:17]] + [leaner(records[17], output="")]  # 18, 19: no twin
    (release / "instruction.jsonl").write_text("".join(json.dumps(t) + "\n" for t in twins))
    words = tmp_path / "word_list.txt"
    words.write_text("\n".join(WORDS) + "\n")
    return {"path": path, "raw": tmp_path / "raw", "words": words, "records": records}


def data_params(params, **changes):
    cfg = with_changes(
        params.instruct_data, **{"backend": "release", "validation_fraction": 0.1, "test_fraction": 0.1, **changes}
    )
    return params.model_copy(update={"instruct_data": cfg})


def test_record_id_is_the_release_hash():
    expected = hashlib.sha256(b"Do it. in here out there").hexdigest()
    assert record_id("Do it.", "in here", "out there") == expected
    # an empty input is left out, not joined as an extra space
    assert record_id("Do it.", "", "out there") == hashlib.sha256(b"Do it. out there").hexdigest()


def test_record_id_matches_the_bundled_leaner_twins():
    ori = [r for _, r in iter_records(REPO_ROOT / "data/sample/ori/instruction0000.jsonl")]
    twins = {r["hash"] for _, r in iter_records(REPO_ROOT / "data/sample/leaner/instruction0000.jsonl")}
    ids = {record_id(r["instruction"], r["input"], r["output"]) for r in ori}
    assert twins <= ids and len(twins) >= len(ids) - 2


def test_dedup_keeps_the_first_and_counts():
    records = [{"id": i} for i in ("a", "b", "a", "c", "b")]
    kept, duplicates = dedup(records)
    assert [r["id"] for r in kept] == ["a", "b", "c"] and duplicates == 2


def test_splits_are_disjoint_and_in_hash_order():
    ids = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)]
    splits = assign_splits(ids, 0.1, 0.04)
    assert set(splits) == set(ids)
    by = {name: sorted(i for i, s in splits.items() if s == name) for name in ("train", "validation", "test")}
    assert [len(by[n]) for n in ("train", "validation", "test")] == [43, 5, 2]
    assert max(by["validation"]) < min(by["test"]) and max(by["test"]) < min(by["train"])
    assert assign_splits(list(reversed(ids)), 0.1, 0.04) == splits  # independent of the source order
    assert sum(1 for s in assign_splits(ids[:5], 0.01, 0.01).values() if s != "train") == 2  # at least one each
    with pytest.raises(DataError, match="too few"):
        assign_splits(ids[:2], 0.1, 0.1)


def test_both_variants_hold_the_same_records_per_split(params, corpus, tmp_path):
    out = tmp_path / "instruct"
    settings = data_params(params, source=str(corpus["path"]))
    result = build_instruct_data(
        settings.instruct_data,
        out,
        **instruct_data_sections(settings),
        release_dir=corpus["raw"],
        word_list=corpus["words"],
    )
    read = {
        (v, s): [r for _, r in iter_records(out / v / f"{s}.jsonl")]
        for v in ("ori", "leaner")
        for s in ("train", "validation", "test")
    }
    for split in ("train", "validation", "test"):
        assert [r["id"] for r in read[("ori", split)]] == [r["id"] for r in read[("leaner", split)]]
    ids = {s: {r["id"] for r in read[("ori", s)]} for s in ("train", "validation", "test")}
    assert not ids["train"] & ids["validation"] and not ids["train"] & ids["test"]
    assert not ids["validation"] & ids["test"]
    assert [len(ids[s]) for s in ("train", "validation", "test")] == [13, 2, 2]
    # the twins are the published ones, the originals untouched
    leaner_train = read[("leaner", "train")]
    assert all("seat" in r["output"] and "bench" not in r["output"] for r in leaner_train)
    assert all("bench" in r["output"] for r in read[("ori", "train")])
    # 23 read, 2 duplicates; an empty original, an empty twin and 2 without one are rejects with their reason
    metrics = result.metrics
    assert (metrics["source_records"], metrics["duplicates"], metrics["kept"]) == (23, 2, 17)
    assert metrics["reject_reasons"] == {"empty_output": 1, "empty_source": 1, "not in release": 2}
    rejects = [r for _, r in iter_records(out / "rejects.jsonl")]
    assert {r["reason"] for r in rejects} == {"empty_output", "empty_source", "not in release"}
    assert len(rejects) == 4
    assert all(r["origin"].startswith(str(corpus["path"])) for r in rejects)
    for variant in ("ori", "leaner"):
        item = metrics["variants"][variant]
        assert item["records"] == 17 and item["tokens"] > item["words"] * 0.5 and 0 < item["list_coverage"] < 1
    assert metrics["variants"]["leaner"]["vocabulary"] < metrics["variants"]["ori"]["vocabulary"]
    assert json.loads((out / "stats.json").read_text())["variants"]["ori"]["splits"]["validation"]["records"] == 2


def test_rules_backend_keeps_every_record(params, corpus, tmp_path):
    settings = data_params(params, source=str(corpus["path"]), backend="rules")
    result = build_instruct_data(
        settings.instruct_data,
        tmp_path / "out",
        **instruct_data_sections(settings),
        release_dir=corpus["raw"],
        word_list=corpus["words"],
    )
    assert result.metrics["kept"] == 20 and result.metrics["reject_reasons"] == {"empty_source": 1}


def test_a_bad_record_stops_naming_file_and_line(params, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(alpaca(1)) + "\n" + json.dumps({"instruction": "x", "output": 3}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: .*output"):
        read_source(with_changes(params.instruct_data, source=str(path)))
    with pytest.raises(DataError, match="no such file"):
        read_source(with_changes(params.instruct_data, source=str(tmp_path / "absent.jsonl")))
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["instruct_data"]["source"] = "hf:alpaca-cleaned"
    with pytest.raises(ConfigError, match="instruct_data.source"):
        validate_params(raw)
    raw["instruct_data"]["source"] = "sample"
    raw["instruct"]["export_every"] = 7
    with pytest.raises(ConfigError, match="multiple of eval_every"):
        validate_params(raw)


def test_hub_source_reads_through_datasets(params, corpus, monkeypatch):
    """`hf:yahma/alpaca-cleaned` goes through datasets.load_dataset; here a local JSON stand-in answers."""
    import datasets

    real = datasets.load_dataset
    calls = []

    def stand_in(repo_id, revision=None, split=None, cache_dir=None):
        calls.append((repo_id, revision, split))
        return real("json", data_files=str(corpus["path"]), split=split, cache_dir=cache_dir)

    monkeypatch.setattr(datasets, "load_dataset", stand_in)
    cfg = with_changes(params.instruct_data, source="hf:yahma/alpaca-cleaned@abc123", max_records=5)
    records, inputs = read_source(cfg, cache_dir=str(corpus["raw"].parent / "hub"))
    assert calls == [("yahma/alpaca-cleaned", "abc123", "train")] and inputs == {}
    assert [r["id"] for r in records] == [
        record_id(r["instruction"], r["input"], r["output"]) for r in corpus["records"][:5]
    ]
    assert records[0]["origin"] == "hf:yahma/alpaca-cleaned@abc123[train#1]"
