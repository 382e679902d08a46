"""The clean stage over a corpus: accounting, determinism, worker independence, bad input, empty genres."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.tiny_release import append_line
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import BadRecordError
from tinyhelen.corpus import clean as module
from tinyhelen.corpus.clean import clean_corpus
from tinyhelen.corpus.ingest import ingest


@pytest.fixture
def raw(params, tiny_release, tmp_path) -> Path:
    data = with_changes(params.data, source=str(tiny_release))
    ingest(data, params.ingest, tmp_path / "raw")
    return tmp_path / "raw"


@pytest.fixture
def data(params, tiny_release):
    return with_changes(params.data, source=str(tiny_release))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.jsonl"))}


def test_every_document_is_kept_or_rejected_with_a_rule(raw, data, params, tmp_path):
    result = clean_corpus(raw, tmp_path / "clean", data, params.clean)
    rejects = [json.loads(line) for line in (tmp_path / "clean" / "rejects.jsonl").read_text().splitlines()]
    for variant, genres in result.metrics["corpus"].items():
        for genre, stats in genres.items():
            rejected = sum(stats["rejected"].values())
            assert stats["documents_in"] == stats["documents_out"] + rejected, (variant, genre)
            assert rejected == sum(1 for r in rejects if r["variant"] == variant and r["genre"] == genre)
    # the tiny web page "Accept cookies? Yes | No" and short texts fall to boilerplate or length
    assert {r["rule"] for r in rejects} <= set(module.RULES)
    assert all(r["reason"] for r in rejects)
    kept = [json.loads(line) for line in (tmp_path / "clean" / "ori" / "train" / "web.jsonl").read_text().splitlines()]
    raw_ids = [json.loads(line)["id"] for line in (raw / "ori" / "train" / "web.jsonl").read_text().splitlines()]
    assert [r["id"] for r in kept] == [i for i in raw_ids if i in {r["id"] for r in kept}]  # same ids, same order
    assert result.plot_rows and {"genre", "rule", "words_removed"} <= set(result.plot_rows[0])


def test_output_is_byte_identical_across_runs_and_worker_counts(raw, data, params, tmp_path, monkeypatch):
    clean_corpus(raw, tmp_path / "a", data, with_changes(params.clean, workers=1))
    monkeypatch.setattr(module, "_MIN_POOL_BYTES", 0)  # force the pool even on tiny files
    clean_corpus(raw, tmp_path / "b", data, with_changes(params.clean, workers=2))
    clean_corpus(raw, tmp_path / "c", data, with_changes(params.clean, workers=2))
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == _files(tmp_path / "c")


def test_duplicates_across_splits_keep_the_first(raw, data, params, tmp_path):
    train = raw / "ori" / "train" / "book.jsonl"
    record = json.loads(train.read_text().splitlines()[0])
    record["text"] = record["text"] + " " + " ".join(["The lamps burned low."] * 12)
    train.write_text(json.dumps(record) + "\n")
    test_file = raw / "ori" / "test" / "book.jsonl"
    twin = dict(record, split="test", text=record["text"].upper())
    test_file.write_text(json.dumps(twin) + "\n")
    result = clean_corpus(raw, tmp_path / "clean", data, params.clean)
    book = result.metrics["corpus"]["ori"]["book"]
    assert book["rejected"]["exact_dedup"] == 1
    assert (tmp_path / "clean" / "ori" / "test" / "book.jsonl").read_text() == ""


def test_an_exact_duplicate_reject_names_the_source_of_both(raw, data, params, tmp_path):
    """A duplicate shares its id with the document it repeats (the id is the text's hash): only the source
    file and line of both tell them apart."""
    train = raw / "ori" / "train" / "book.jsonl"
    record = json.loads(train.read_text().splitlines()[0])
    record["text"] = record["text"] + " " + " ".join(["The lamps burned low."] * 12)
    first = dict(record, origin="ori/10M/train/book0000.jsonl.zst:1")
    second = dict(record, origin="ori/10M/train/book0001.jsonl.zst:7")
    train.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    clean_corpus(raw, tmp_path / "clean", data, params.clean)
    rejects = [json.loads(line) for line in (tmp_path / "clean" / "rejects.jsonl").read_text().splitlines()]
    (duplicate,) = [r for r in rejects if r["rule"] == "exact_dedup" and r["genre"] == "book"]
    assert duplicate["origin"] == "ori/10M/train/book0001.jsonl.zst:7"
    assert duplicate["duplicate_of"] == {"id": record["id"], "origin": "ori/10M/train/book0000.jsonl.zst:1"}
    assert "ori/10M/train/book0000.jsonl.zst:1" in duplicate["reason"]
    assert all(r["origin"] for r in rejects)


def test_malformed_record_fails_with_file_and_line(raw, data, params, tmp_path):
    append_line(raw / "ori" / "train" / "wiki.jsonl", '{"id": "x", "genre": "wiki"}')
    with pytest.raises(BadRecordError, match=r"wiki\.jsonl:3: missing or malformed 'text'"):
        clean_corpus(raw, tmp_path / "clean", data, params.clean)
    assert not (tmp_path / "clean").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_malformed_records_skipped_when_ingest_says_skip(raw, data, params, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(module, "_MIN_POOL_BYTES", 0)
    wiki, web = raw / "ori" / "train" / "wiki.jsonl", raw / "ori" / "train" / "web.jsonl"
    append_line(wiki, "not json")
    append_line(wiki, '{"id": "x", "genre": "web", "text": "t"}')
    append_line(web, "{broken")  # web has a first pass (shared boilerplate lines): still counted once
    cfg = with_changes(params.clean, workers=workers)
    result = clean_corpus(raw, tmp_path / "clean", with_changes(data, on_bad_record="skip"), cfg)
    assert result.metrics["bad_records"] == {str(wiki): 2, str(web): 1}


def test_empty_and_missing_genres_give_empty_outputs(raw, data, params, tmp_path, caplog):
    (raw / "ori" / "train" / "code.jsonl").write_text("")
    (raw / "leaner" / "test" / "math.jsonl").unlink()
    result = clean_corpus(raw, tmp_path / "clean", data, params.clean)
    assert (tmp_path / "clean" / "ori" / "train" / "code.jsonl").read_text() == ""
    assert (tmp_path / "clean" / "leaner" / "test" / "math.jsonl").read_text() == ""
    assert result.metrics["corpus"]["ori"]["code"]["documents_in"] == 0
    assert any("missing" in m for m in caplog.messages)


def test_bad_record_with_a_pool_fails_cleanly(raw, data, params, tmp_path, monkeypatch):
    monkeypatch.setattr(module, "_MIN_POOL_BYTES", 0)
    append_line(raw / "ori" / "train" / "web.jsonl", "{broken")
    with pytest.raises(BadRecordError, match=r"web\.jsonl:\d+: invalid JSON"):
        clean_corpus(raw, tmp_path / "clean", data, with_changes(params.clean, workers=2))
    assert not (tmp_path / "clean").exists()
