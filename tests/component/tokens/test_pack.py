"""Packing: decoded shards equal the documents plus their end tokens, framed per family; deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from tests.fixtures.tiny_corpus import make_documents, write_tokenizers
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import read_json, write_jsonl
from tinyhelen.params import validate_params
from tinyhelen.tokens.pack import pack
from tinyhelen.tokens.shards import open_blocks
from tinyhelen.tokens.tokenizer import FAMILY_REGISTRY

BLOCK = 32


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> Path:
    return write_tokenizers(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def composed(tmp_path_factory) -> Path:
    """A composed folder: leaner and ori, every split, with code and math records among the prose."""
    root = tmp_path_factory.mktemp("composed")
    for corpus, side in (("ori", 0), ("leaner", 1)):
        for split, count in (("train", 40), ("validation", 6), ("test", 6)):
            records = [pair[side] for pair in make_documents("wiki", split, count, seed=1)]
            records.append(
                {
                    **records[0],
                    "id": "c" * 64,
                    "genre": "code",
                    "prompt": "Add two numbers.",
                    "response": "def add(a, b):\n    return a + b",
                    "text": "Add two numbers. def add",
                }
            )
            write_jsonl(root / corpus / f"{split}.jsonl", records)
    return root


@pytest.fixture(scope="module")
def packed(composed, tokenizers, tmp_path_factory) -> tuple[Path, dict]:
    from tests.conftest import REPO_ROOT
    from tinyhelen.params import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    out = tmp_path_factory.mktemp("packed") / "packed"
    result = pack(with_changes(params.pack, block_size=BLOCK, batch_documents=7, workers=2), composed, tokenizers, out)
    return out, result.metrics


def _documents(composed: Path, corpus: str, split: str) -> list[str]:
    from tinyhelen.core.documents import iter_documents, training_text

    return [training_text(r) for r in iter_documents(composed / corpus / f"{split}.jsonl")]


@pytest.mark.parametrize("family", sorted(FAMILY_REGISTRY))
def test_rows_decode_to_the_documents_plus_their_end_token(packed, composed, tokenizers, family):
    out, _ = packed
    tokenizer = Tokenizer.from_file(str(tokenizers / family / "tokenizer.json"))
    spec = FAMILY_REGISTRY[family]
    prefix = [tokenizer.token_to_id(t) for t in spec.row_prefix]
    suffix = [tokenizer.token_to_id(t) for t in spec.row_suffix]
    doc_end = tokenizer.token_to_id(spec.doc_end)
    for corpus in ("leaner", "ori"):
        rows = open_blocks(out / f"{corpus}-{family}", "train")
        assert rows.dtype == np.uint16 and rows.shape[1] == BLOCK and len(rows) > 3
        content = BLOCK - len(prefix) - len(suffix)
        for row in rows:
            assert list(row[: len(prefix)]) == prefix and list(row[BLOCK - len(suffix) :]) == suffix
        stream = rows[:, len(prefix) : len(prefix) + content].reshape(-1).tolist()
        expected: list[int] = []
        for text in _documents(composed, corpus, "train"):
            expected += tokenizer.encode(text, add_special_tokens=False).ids + [doc_end]
        # every full row is there; only the tail shorter than a row is dropped
        assert stream == expected[: len(stream)] and len(expected) - len(stream) < content
        # and the decoded text is the documents, each followed by its end token
        pieces = [
            tokenizer.decode(part, skip_special_tokens=False) for part in _split_on(expected[: len(stream)], doc_end)
        ]
        assert pieces[:-1] == _documents(composed, corpus, "train")[: len(pieces) - 1]


def _split_on(ids: list[int], end: int) -> list[list[int]]:
    parts, current = [], []
    for token in ids:
        if token == end:
            parts.append(current)
            current = []
        else:
            current.append(token)
    return parts + [current]


def test_index_describes_the_shards(packed, tokenizers):
    out, metrics = packed
    index = read_json(out / "ori-xlnet" / "index.json")
    assert index["block_size"] == BLOCK and index["dtype"] == "uint16" and index["family"] == "xlnet"
    assert index["vocab_size"] == 320 and index["tokenizer"] == (tokenizers / "xlnet").as_posix()
    assert set(index["special_ids"]) == {"pad", "sep", "cls", "mask"}
    assert index["documents"] == {"train": 41, "validation": 7, "test": 7}
    for split in ("train", "validation", "test"):
        size = (out / "ori-xlnet" / f"{split}.bin").stat().st_size
        assert size == index["num_blocks"][split] * BLOCK * 2
        assert metrics["packs"]["ori-xlnet"][split]["blocks"] == index["num_blocks"][split]
    assert metrics["tokens"] > 0 and metrics["tokens_per_second"] > 0


def test_packing_is_deterministic(params, packed, composed, tokenizers, tmp_path):
    out, _ = packed
    pack(
        with_changes(params.pack, block_size=BLOCK, batch_documents=3, workers=1),
        composed,
        tokenizers,
        tmp_path / "again",
    )
    for name in ("leaner-causal", "ori-bert"):
        for split in ("train", "test"):
            # batch size and worker count change how the work is split, never the bytes
            again = (tmp_path / "again" / name / f"{split}.bin").read_bytes()
            assert again == (out / name / f"{split}.bin").read_bytes()


def test_odd_block_size_is_refused_naming_the_key(params):
    raw = params.model_dump(mode="json")
    raw["pack"]["block_size"] = 129
    with pytest.raises(ConfigError, match=r"'pack.block_size': must be even"):
        validate_params(raw)


def test_missing_composed_split_is_a_clear_error(params, composed, tokenizers, tmp_path):
    (tmp_path / "composed" / "ori").mkdir(parents=True)
    with pytest.raises(DataError, match=r"ori/train.jsonl: no such corpus file"):
        pack(with_changes(params.pack, corpora=["ori"]), tmp_path / "composed", tokenizers, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_split_too_short_for_one_row_packs_to_zero_rows(params, tokenizers, tmp_path):
    composed = tmp_path / "composed"
    for split in ("train", "validation", "test"):
        write_jsonl(composed / "leaner" / f"{split}.jsonl", [{"id": split, "genre": "wiki", "text": "A cat."}])
    pack(
        with_changes(params.pack, corpora=["leaner"], families=["causal"], block_size=BLOCK, workers=1),
        composed,
        tokenizers,
        tmp_path / "out",
    )
    rows = open_blocks(tmp_path / "out" / "leaner-causal", "test")
    assert rows.shape == (0, BLOCK)
    assert read_json(tmp_path / "out" / "leaner-causal" / "index.json")["tokens"]["test"] > 0
