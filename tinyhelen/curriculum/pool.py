"""The document pool of a curriculum run: every training document tokenised once, packed on demand.

    pool = TokenPool.from_texts(ids, texts, tokenizer_dir="data/tokenizers/causal")
    rows = pool.pack(order[:count], block_size=1024)      # [rows, block_size] uint16, documents in that order

A document is its tokens followed by the causal family's document end, exactly as the pack stage streams it
(`tinyhelen.tokens.pack`); a packed subset is the chosen documents' streams back to back, cut into rows (the tail
shorter than a row is dropped), so a row can cross a document boundary as in the paper's `group_texts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyhelen.core.documents import iter_documents, training_text
from tinyhelen.core.errors import DataError
from tinyhelen.tokens.pack import DTYPE, Framing, frame_rows
from tinyhelen.tokens.tokenizer import ChunkEncoder, load_backend

ENCODE_BATCH = 1000


@dataclass
class Documents:
    """The documents of one corpus file, in file order."""

    ids: list[str]
    genres: list[str]
    texts: list[str]


def read_documents(path: str | Path) -> Documents:
    """Ids, genres and training texts of a composed split file; duplicate ids are an error (file:line)."""
    path = Path(path)
    ids: list[str] = []
    genres: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    for number, record in enumerate(iter_documents(path, required=True), start=1):
        if record["id"] in seen:
            raise DataError(f"{path}:{number}: document id {record['id']!r} also on line {seen[record['id']]}")
        seen[record["id"]] = number
        ids.append(record["id"])
        genres.append(str(record.get("genre", "")))
        texts.append(training_text(record))
    if not ids:
        raise DataError(f"{path}: no documents")
    return Documents(ids, genres, texts)


@dataclass
class TokenPool:
    """Token ids of every document, back to back (`tokens`), with each document's start and length."""

    ids: list[str]
    tokens: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    framing: Framing

    @classmethod
    def from_texts(cls, ids: Sequence[str], texts: Sequence[str], tokenizer_dir: str | Path) -> TokenPool:
        """Tokenise every text with the causal tokenizer in `tokenizer_dir` (+ its document end)."""
        tokenizer = load_backend(Path(tokenizer_dir))
        framing = Framing.for_family(tokenizer, "causal")
        encoder = ChunkEncoder(tokenizer)
        pieces, lengths = [], []
        for start in range(0, len(texts), ENCODE_BATCH):
            batch = list(texts[start : start + ENCODE_BATCH])
            pieces.append(encoder.encode_stream(batch, framing.doc_end).astype(DTYPE))
            lengths += [n + 1 for n in encoder.count(batch)]
        tokens = np.concatenate(pieces) if pieces else np.empty(0, dtype=DTYPE)
        lengths_array = np.asarray(lengths, dtype=np.int64)
        starts = np.cumsum(lengths_array) - lengths_array
        if int(lengths_array.sum()) != len(tokens):
            raise DataError(f"{tokenizer_dir}: token counts disagree with the encoded stream")
        return cls(list(ids), tokens, starts, lengths_array, framing)

    def __len__(self) -> int:
        return len(self.ids)

    def document(self, index: int) -> np.ndarray:
        """One document's tokens (its document end included)."""
        return self.tokens[self.starts[index] : self.starts[index] + self.lengths[index]]

    def token_count(self, indices: np.ndarray) -> int:
        return int(self.lengths[np.asarray(indices, dtype=np.int64)].sum())

    def pack(self, indices: np.ndarray, block_size: int) -> np.ndarray:
        """The documents `indices`, in that order, as [rows, block_size] uint16 rows.

        Raises:
            DataError: the documents hold fewer tokens than one row.
        """
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) == 0:
            raise DataError("no documents to pack")
        stream = np.concatenate([self.document(i) for i in indices])
        rows, _ = frame_rows(stream, self.framing, block_size)
        if len(rows) == 0:
            raise DataError(
                f"{len(indices)} document(s) hold {len(stream)} tokens, less than one "
                f"{block_size}-token row (use more documents or a smaller block_size)"
            )
        return rows
