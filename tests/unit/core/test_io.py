"""Streaming readers (jsonl, zst, JSON arrays), damage and bad-record handling, atomic writers."""

from __future__ import annotations

import json

import pytest
import zstandard

from tests.fixtures.tiny_release import truncate_zst, write_big_zst
from tinyhelen.core.errors import BadRecordError, DamagedFileError
from tinyhelen.core.io import (
    SkipCounter,
    atomic_dir,
    atomic_open,
    iter_json_array,
    iter_jsonl,
    iter_records,
    sha256_file,
    write_json,
    write_jsonl,
)


def _jsonl(path, records, compress=False):
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data) if compress else data)
    return path


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.zst"])
def test_jsonl_round_trip(tmp_path, name):
    records = [{"text": "héllo"}, {"text": "wörld", "n": 2}]
    path = _jsonl(tmp_path / name, records, compress=name.endswith(".zst"))
    assert [r for _, r in iter_jsonl(path)] == records
    assert [n for n, _ in iter_jsonl(path)] == [1, 2]


def test_blank_lines_are_ignored(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert [r["a"] for _, r in iter_jsonl(path)] == [1, 2]


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    with pytest.raises(BadRecordError, match=r"a\.jsonl:2: invalid JSON"):
        list(iter_jsonl(path))


def test_malformed_lines_can_be_skipped_and_counted(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\nnot json\n{"a": 3}\n\xff\n')
    counter = SkipCounter()
    assert [r["a"] for _, r in iter_jsonl(path, counter)] == [1, 3]
    assert counter.counts == {str(path): 2}


def test_invalid_utf8_is_a_bad_record(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff\xfe"}\n')
    with pytest.raises(BadRecordError, match=":2:"):
        list(iter_jsonl(path))


def test_truncated_zst_yields_records_before_damage(tmp_path):
    path = tmp_path / "web0000.jsonl.zst"
    records = write_big_zst(path)
    truncate_zst(path, keep=0.6)
    read = []
    with pytest.raises(DamagedFileError) as info:
        for _, record in iter_jsonl(path):
            read.append(record)
    assert 0 < len(read) < len(records)
    assert read == records[: len(read)]
    assert info.value.recovered == len(read)
    assert "web0000.jsonl.zst" in str(info.value)


def test_corrupt_zst_is_damage(tmp_path):
    path = tmp_path / "web0000.jsonl.zst"
    write_big_zst(path)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedFileError):
        list(iter_jsonl(path))


@pytest.mark.parametrize("name", ["c.json", "c.json.zst"])
def test_json_array_streams_items(tmp_path, name):
    items = ["one script", "two script", "drei"]
    data = json.dumps(items).encode()
    path = tmp_path / name
    path.write_bytes(zstandard.ZstdCompressor().compress(data) if name.endswith(".zst") else data)
    assert [item for _, item in iter_json_array(path)] == items
    assert [origin for origin, _ in iter_records(path)][-1].endswith("[#3]")


def test_truncated_json_array_is_damage_after_complete_items(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('["one", "two", "thr')
    got = []
    with pytest.raises(DamagedFileError) as info:
        for _, item in iter_json_array(path):
            got.append(item)
    assert got == ["one", "two"] and info.value.recovered == 2


def test_atomic_open_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "out.json"
    write_json(path, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(path) as handle:
            handle.write('{"v": 2')
            raise RuntimeError("crash mid-write")
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_jsonl_counts(tmp_path):
    assert write_jsonl(tmp_path / "x" / "a.jsonl", ({"i": i} for i in range(3))) == 3
    assert (tmp_path / "x" / "a.jsonl").read_text().count("\n") == 3


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "raw"
    with atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "b.txt").write_text("half")
            raise RuntimeError
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    with atomic_dir(out) as tmp:
        (tmp / "c.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_sha256_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def _two_frames(path, records):
    """A .jsonl.zst of two zstd frames (as `zstd` writes when files are concatenated); returns frame 1's size."""
    half = len(records) // 2
    frames = [
        zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in part).encode())
        for part in (records[:half], records[half:])
    ]
    path.write_bytes(frames[0] + frames[1])
    return len(frames[0])


def test_every_frame_is_read(tmp_path):
    records = [{"n": n, "text": f"record {n} " * 5} for n in range(200)]
    _two_frames(tmp_path / "a.jsonl.zst", records)
    assert [r for _, r in iter_jsonl(tmp_path / "a.jsonl.zst")] == records


@pytest.mark.parametrize("cut", ["inside_second_frame", "inside_first_frame"])
def test_zst_cut_inside_a_frame_at_a_line_boundary_is_damage(tmp_path, cut):
    """The old stream reader stopped quietly at an incomplete frame: a cut file read as a shorter one."""
    records = [{"n": n, "text": f"record {n} " * 5} for n in range(200)]
    path = tmp_path / "a.jsonl.zst"
    first = _two_frames(path, records)
    data = path.read_bytes()
    path.write_bytes(data[: first + 12] if cut == "inside_second_frame" else data[: first // 2])
    read = []
    with pytest.raises(DamagedFileError, match="ends inside a zstd frame") as info:
        for _, record in iter_jsonl(path):
            read.append(record)
    assert read == records[: len(read)] and info.value.recovered == len(read)
    if cut == "inside_second_frame":
        assert len(read) == 100


@pytest.mark.parametrize("name", ["a.jsonl.zst", "c.json.zst"])
def test_empty_zst_is_damage(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DamagedFileError, match="empty file") as info:
        list(iter_records(path))
    assert info.value.recovered == 0


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = [tmp_path / f".leaner.tmp-{dead_pid}-abc123", tmp_path / ".leaner.tmp-x7yz_q"]  # new and old names
    for folder in stale:
        (folder / "train").mkdir(parents=True)
        (folder / "train" / "web.jsonl").write_text("{}\n")
    (tmp_path / f".leaner.old-{dead_pid}").mkdir()
    (tmp_path / f".metrics.json.tmp-{dead_pid}-q1").write_text("{")
    live = tmp_path / f".leaner.tmp-{os.getppid()}-live"  # a running process's: left alone
    live.mkdir()
    other = tmp_path / ".leaner2.tmp-1-x"  # another output's
    other.mkdir()
    with atomic_dir(tmp_path / "leaner") as tmp:
        (tmp / "done").write_text("ok")
    write_json(tmp_path / "metrics.json", {"a": 1})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["leaner", "metrics.json", live.name, other.name])
