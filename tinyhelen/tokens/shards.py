"""Reading the pack stage's token blocks, and a resumable shuffled batch order over them.

A pack folder `data/packed/<corpus>-<family>/` holds `<split>.bin` (uint16 memmap, shape
[num_blocks, block_size]; each row is exactly one model input_ids row) and `index.json`:

    {"block_size": 256, "num_blocks": {"train": 812, ...}, "dtype": "uint16", "vocab_size": 2000,
     "family": "causal", "special_ids": {"pad": 1, ...}, "tokenizer": "data/tokenizers/causal", ...}

    index = read_pack_index("data/packed/leaner-causal")
    blocks = open_split(index, "train")              # np.memmap, nothing read yet
    order = BatchOrder(len(blocks), batch_size=8, seed=65)
    rows = order.next_rows()                          # 8 row numbers; order.state_dict() resumes exactly
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.errors import DataError

INDEX_KEYS = ("block_size", "num_blocks", "dtype", "vocab_size", "family", "special_ids", "tokenizer")


@dataclass(frozen=True)
class PackIndex:
    """A pack folder's index.json, checked."""

    path: Path
    block_size: int
    num_blocks: dict[str, int]
    vocab_size: int
    family: str
    special_ids: dict[str, int | None]
    tokenizer: str
    extra: dict[str, Any] = field(default_factory=dict)


def read_pack_index(pack_dir: str | Path) -> PackIndex:
    """Read and check `<pack_dir>/index.json`.

    Raises:
        DataError: the file is missing, not JSON, or lacks a key or has a bad value (named).
    """
    path = Path(pack_dir) / "index.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no pack index (run the pack stage first)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object")
    missing = [key for key in INDEX_KEYS if key not in raw]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing}")
    if raw["dtype"] != "uint16":
        raise DataError(f"{path}: dtype must be 'uint16', got {raw['dtype']!r}")
    for key in ("block_size", "vocab_size"):
        if not isinstance(raw[key], int) or raw[key] <= 0:
            raise DataError(f"{path}: '{key}' must be a positive integer, got {raw[key]!r}")
    if raw["vocab_size"] > 65536:
        raise DataError(f"{path}: vocab_size {raw['vocab_size']} does not fit uint16")
    if not isinstance(raw["num_blocks"], dict) or not all(
        isinstance(n, int) and n >= 0 for n in raw["num_blocks"].values()
    ):
        raise DataError(f"{path}: 'num_blocks' must map split -> non-negative integer, got {raw['num_blocks']!r}")
    if not isinstance(raw["special_ids"], dict):
        raise DataError(f"{path}: 'special_ids' must be an object, got {raw['special_ids']!r}")
    return PackIndex(
        path=Path(pack_dir),
        block_size=raw["block_size"],
        num_blocks=dict(raw["num_blocks"]),
        vocab_size=raw["vocab_size"],
        family=str(raw["family"]),
        special_ids=dict(raw["special_ids"]),
        tokenizer=str(raw["tokenizer"]),
        extra={k: v for k, v in raw.items() if k not in INDEX_KEYS},
    )


def open_split(index: PackIndex, split: str, *, allow_empty: bool = False) -> np.memmap | np.ndarray:
    """Memory-map `<split>.bin` as [num_blocks, block_size] uint16, checking its size against the index.

    The one reader of the pack format (`tinyhelen.tokens.pack` is its one writer).

    Args:
        index: the pack's index (`read_pack_index`).
        split: train, validation or test.
        allow_empty: give an empty [0, block_size] array for a split without blocks instead of failing.

    Raises:
        DataError: the split is not in the index, has no blocks (unless `allow_empty`), the file is missing,
            or its size does not match.
    """
    path = index.path / f"{split}.bin"
    if split not in index.num_blocks:
        raise DataError(f"{index.path / 'index.json'}: no split {split!r} in num_blocks")
    rows = index.num_blocks[split]
    if rows == 0 and allow_empty:
        return np.empty((0, index.block_size), dtype=np.uint16)  # an empty file cannot be memory-mapped
    if rows == 0:
        raise DataError(f"{path}: the {split} split has no blocks (too little text for block_size {index.block_size})")
    expected = rows * index.block_size * 2
    if not path.exists():
        raise DataError(f"{path}: missing (index.json lists {rows} blocks)")
    size = path.stat().st_size
    if size != expected:
        raise DataError(
            f"{path}: {size} bytes, but index.json says {rows} blocks x {index.block_size} "
            f"tokens x 2 bytes = {expected}"
        )
    return np.memmap(path, dtype=np.uint16, mode="r", shape=(rows, index.block_size))


def open_blocks(pack_dir: str | Path, split: str) -> np.memmap | np.ndarray:
    """`open_split` of a pack folder, empty splits allowed: the rows of one split of one pack."""
    return open_split(read_pack_index(pack_dir), split, allow_empty=True)


class BatchOrder:
    """Shuffled row numbers, one fresh permutation per epoch, drawn from (seed, epoch): resumable exactly.

    A batch that runs past the end of an epoch continues into the next one, so every batch is full.
    """

    def __init__(self, num_rows: int, batch_size: int, seed: int) -> None:
        if num_rows <= 0:
            raise ValueError("num_rows must be positive")
        self.num_rows = num_rows
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0
        self.position = 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)

    def next_rows(self) -> np.ndarray:
        """The next `batch_size` row numbers."""
        rows = []
        needed = self.batch_size
        while needed:
            take = self._perm[self.position : self.position + needed]
            rows.append(take)
            needed -= len(take)
            self.position += len(take)
            if self.position == self.num_rows:
                self.epoch += 1
                self.position = 0
                self._perm = self._permutation(self.epoch)
        return np.concatenate(rows)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "num_rows": self.num_rows, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["num_rows"] != self.num_rows or state["seed"] != self.seed:
            raise DataError(
                f"checkpoint data position is for {state['num_rows']} rows / seed {state['seed']}, "
                f"the data now has {self.num_rows} rows / seed {self.seed}"
            )
        self.epoch, self.position = state["epoch"], state["position"]
        self._perm = self._permutation(self.epoch)


def read_rows(blocks: np.memmap, rows: np.ndarray):
    """Rows of a memmap as an int64 torch tensor [len(rows), block_size]."""
    import torch

    return torch.from_numpy(np.asarray(blocks[rows], dtype=np.int64))
