"""`ingest` on the tiny release: every format, budgets, missing/damaged files, bad records, caps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.tiny_release import append_line, truncate_zst, write_big_zst
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import BadRecordError, DamagedFileError, DataError
from tinyhelen.corpus.ingest import ingest, plan_groups


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def data_cfg(params, tiny_release):
    return with_changes(params.data, source=str(tiny_release))


def test_reads_every_genre_and_aligns(data_cfg, params, tmp_path):
    result = ingest(data_cfg, params.ingest, tmp_path / "raw")
    corpus = result.metrics["corpus"]
    assert corpus["ori"]["train"]["web"]["documents"] == 3
    assert corpus["leaner"]["train"]["web"]["documents"] == 2
    assert corpus["ori"]["train"]["conversation"]["documents"] == 2
    assert corpus["ori"]["train"]["wiki"]["documents"] == 2
    for genre in ("book", "textbook", "code", "math"):
        assert corpus["ori"]["train"][genre]["documents"] == 1, genre
    align = result.metrics["alignment"]["train"]
    assert align["web"] == {"ori_ids": 3, "leaner_ids": 2, "matched": 2}
    assert all(align[g]["matched"] == align[g]["leaner_ids"] for g in align)
    web = _read(tmp_path / "raw" / "ori" / "train" / "web.jsonl")
    assert {r["origin"].split(":")[0] for r in web} == {"ori/10M/train/web0000.jsonl.zst"}
    assert result.metrics["instruction"]["leaner"]["documents"] == 2
    assert result.metrics["glue"]["cola"]["train"] == {"examples": 2}
    assert result.metrics["eval"]["all"] == {"questions": 2}
    assert "leaner/glue/sst2_train.jsonl" in result.metrics["missing"]
    assert "ori/10M/test/web" in result.metrics["missing"]
    # every selected file exists, even the empty ones, so later stages can rely on the layout
    assert (tmp_path / "raw" / "ori" / "test" / "web.jsonl").read_text() == ""
    assert set(result.inputs) >= {"ori/10M/train/web0000.jsonl.zst", "leaner/glue/cola_train.jsonl"}


def test_word_and_byte_counts(data_cfg, params, tmp_path):
    result = ingest(data_cfg, params.ingest, tmp_path / "raw")
    web = _read(tmp_path / "raw" / "ori" / "train" / "web.jsonl")
    stats = result.metrics["corpus"]["ori"]["train"]["web"]
    assert stats["words"] == sum(len(r["text"].split()) for r in web)
    assert stats["bytes"] == sum(len(r["text"].encode()) for r in web)


def test_budget_100m_adds_the_increment_folder(data_cfg, params, tmp_path):
    result = ingest(with_changes(data_cfg, budget="100M"), params.ingest, tmp_path / "raw")
    assert result.metrics["corpus"]["ori"]["train"]["web"]["documents"] == 5
    records = _read(tmp_path / "raw" / "ori" / "train" / "web.jsonl")
    assert [r["budget_dir"] for r in records] == ["10M"] * 3 + ["100M"] * 2


def test_selection_of_variants_genres_splits(data_cfg, params, tmp_path):
    cfg = with_changes(
        data_cfg,
        variants=["leaner"],
        genres=["wiki"],
        splits=["train"],
        glue_tasks=[],
        eval_sets=[],
        instructions=False,
    )
    assert [g.out for g in plan_groups(cfg)] == ["leaner/train/wiki.jsonl"]
    result = ingest(cfg, params.ingest, tmp_path / "raw")
    assert result.metrics["alignment"] == {}
    assert sorted(p.name for p in (tmp_path / "raw").rglob("*.jsonl")) == ["wiki.jsonl"]


def test_max_documents_caps_each_file(data_cfg, params, tmp_path):
    cfg = with_changes(params.ingest, max_documents=1)
    result = ingest(with_changes(data_cfg, budget="100M"), cfg, tmp_path / "raw")
    assert result.metrics["corpus"]["ori"]["train"]["web"]["documents"] == 1
    assert result.metrics["glue"]["cola"]["train"]["examples"] == 1


def test_truncated_zst_is_recovered_with_a_warning(data_cfg, params, tiny_release, tmp_path, caplog):
    path = tiny_release / "ori" / "10M" / "train" / "web0000.jsonl.zst"
    records = write_big_zst(path)
    truncate_zst(path, keep=0.5)
    result = ingest(data_cfg, params.ingest, tmp_path / "raw")
    (damaged,) = result.metrics["damaged"]
    assert damaged["file"] == "ori/10M/train/web0000.jsonl.zst"
    assert 0 < damaged["records_recovered"] < len(records)
    assert result.metrics["corpus"]["ori"]["train"]["web"]["documents"] == damaged["records_recovered"]
    assert any("web0000.jsonl.zst" in m and "up to the damage" in m for m in caplog.messages)


def test_truncated_zst_fails_when_asked(data_cfg, params, tiny_release, tmp_path):
    path = tiny_release / "ori" / "10M" / "train" / "web0000.jsonl.zst"
    write_big_zst(path)
    truncate_zst(path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "keep.txt").write_text("old output")
    with pytest.raises(DamagedFileError, match="web0000.jsonl.zst"):
        ingest(with_changes(data_cfg, on_damaged="fail"), params.ingest, tmp_path / "raw")
    # nothing half-written: the previous output is untouched and no temporary folder is left
    assert (tmp_path / "raw" / "keep.txt").read_text() == "old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "release"]


def test_malformed_line_fails_with_file_and_line(data_cfg, params, tiny_release, tmp_path):
    append_line(tiny_release / "leaner" / "10M" / "train" / "wiki0000.jsonl", '{"idx": 1, "text": ')
    with pytest.raises(BadRecordError, match=r"leaner/10M/train/wiki0000\.jsonl:3: invalid JSON"):
        ingest(data_cfg, params.ingest, tmp_path / "raw")


def test_schema_violation_fails_with_file_and_line(data_cfg, params, tiny_release, tmp_path):
    append_line(tiny_release / "leaner" / "10M" / "train" / "wiki0000.jsonl", '{"idx": 1, "text": "no hash"}')
    with pytest.raises(BadRecordError, match=r"wiki0000\.jsonl:3: missing or malformed 'hash'"):
        ingest(data_cfg, params.ingest, tmp_path / "raw")


def test_bad_records_can_be_skipped_and_counted(data_cfg, params, tiny_release, tmp_path):
    wiki = tiny_release / "leaner" / "10M" / "train" / "wiki0000.jsonl"
    append_line(wiki, "garbage")
    append_line(wiki, '{"idx": 1, "text": "no hash"}')
    result = ingest(with_changes(data_cfg, on_bad_record="skip"), params.ingest, tmp_path / "raw")
    assert result.metrics["bad_records"] == {"leaner/10M/train/wiki0000.jsonl": 2}
    assert result.metrics["corpus"]["leaner"]["train"]["wiki"]["documents"] == 2


def test_missing_source_folder_names_the_param(params, tmp_path):
    with pytest.raises(DataError, match="data.source=.*no such folder"):
        ingest(with_changes(params.data, source=str(tmp_path / "nope")), params.ingest, tmp_path / "raw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="release layout"):
        ingest(with_changes(params.data, source=str(tmp_path / "empty")), params.ingest, tmp_path / "raw")


def _cut_at_frame_boundary(path: Path) -> int:
    """Rewrite a .jsonl.zst as two frames and cut the second one short after a whole line: the old reader
    returned the first frame's records as if that were all. Returns the records of the first frame."""
    import zstandard

    lines = zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read().splitlines(keepends=True)
    half = len(lines) // 2
    first = zstandard.ZstdCompressor().compress(b"".join(lines[:half]))
    second = zstandard.ZstdCompressor().compress(b"".join(lines[half:]))
    path.write_bytes(first + second[: len(second) // 2])
    return half


@pytest.mark.parametrize("damage", ["cut", "empty"])
def test_cut_or_empty_zst_is_reported_or_fails(data_cfg, params, tiny_release, tmp_path, damage):
    path = tiny_release / "ori" / "10M" / "train" / "web0000.jsonl.zst"
    if damage == "cut":
        recovered = _cut_at_frame_boundary(path)
    else:
        path.write_bytes(b"")
        recovered = 0
    result = ingest(data_cfg, params.ingest, tmp_path / "raw")
    (damaged,) = result.metrics["damaged"]
    assert damaged["file"] == "ori/10M/train/web0000.jsonl.zst" and damaged["records_recovered"] == recovered
    assert result.metrics["corpus"]["ori"]["train"]["web"]["documents"] == recovered
    with pytest.raises(DamagedFileError, match="web0000.jsonl.zst"):
        ingest(with_changes(data_cfg, on_damaged="fail"), params.ingest, tmp_path / "raw2")
    assert not (tmp_path / "raw2").exists()
