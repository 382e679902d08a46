"""Pack index checks and the resumable batch order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyhelen.core.errors import DataError
from tinyhelen.tokens.shards import BatchOrder, open_split, read_pack_index, read_rows


def write_pack(tmp_path, rows=5, block=4, **index_changes):
    data = np.arange(rows * block, dtype=np.uint16).reshape(rows, block)
    data.tofile(tmp_path / "train.bin")
    index = {
        "block_size": block,
        "num_blocks": {"train": rows},
        "dtype": "uint16",
        "vocab_size": 100,
        "family": "causal",
        "special_ids": {"eos": 0},
        "tokenizer": "data/tokenizers/causal",
        **index_changes,
    }
    (tmp_path / "index.json").write_text(json.dumps(index))
    return data


def test_reads_rows_as_int64(tmp_path):
    data = write_pack(tmp_path)
    blocks = open_split(read_pack_index(tmp_path), "train")
    rows = read_rows(blocks, np.array([3, 1]))
    assert rows.dtype.is_floating_point is False and str(rows.dtype) == "torch.int64"
    assert rows.tolist() == data[[3, 1]].tolist()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"dtype": "int32"}, "dtype must be 'uint16'"),
        ({"block_size": 0}, "'block_size' must be a positive integer"),
        ({"num_blocks": [5]}, "'num_blocks' must map split"),
        ({"vocab_size": 70000}, "does not fit uint16"),
    ],
)
def test_bad_index_values_are_named(tmp_path, changes, message):
    write_pack(tmp_path, **changes)
    with pytest.raises(DataError, match=message):
        read_pack_index(tmp_path)


def test_missing_key_and_bad_json(tmp_path):
    (tmp_path / "index.json").write_text('{"block_size": 4}')
    with pytest.raises(DataError, match=r"index.json: missing key\(s\) \['num_blocks'"):
        read_pack_index(tmp_path)
    (tmp_path / "index.json").write_text('{"block_size": 4,')
    with pytest.raises(DataError, match=r"index.json:1: not valid JSON"):
        read_pack_index(tmp_path)


def test_size_mismatch_and_missing_split(tmp_path):
    write_pack(tmp_path, num_blocks={"train": 6, "validation": 0})
    index = read_pack_index(tmp_path)
    with pytest.raises(DataError, match="40 bytes, but index.json says 6 blocks"):
        open_split(index, "train")
    with pytest.raises(DataError, match="has no blocks"):
        open_split(index, "validation")
    with pytest.raises(DataError, match="no split 'test'"):
        open_split(index, "test")


def test_batch_order_covers_each_epoch_and_resumes_exactly():
    order = BatchOrder(10, batch_size=4, seed=1)
    first_epoch = np.concatenate([order.next_rows() for _ in range(2)] + [order.next_rows()[:2]])
    assert sorted(first_epoch.tolist()) == list(range(10))  # 12 rows: one whole epoch + 2 of the next
    saved = order.state_dict()
    expected = [order.next_rows().tolist() for _ in range(5)]
    resumed = BatchOrder(10, batch_size=4, seed=1)
    resumed.load_state_dict(saved)
    assert [resumed.next_rows().tolist() for _ in range(5)] == expected
    with pytest.raises(DataError, match="11 rows"):
        BatchOrder(11, batch_size=4, seed=1).load_state_dict(saved)
