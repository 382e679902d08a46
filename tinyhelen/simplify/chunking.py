"""Sentence-based chunking of text-genre documents into LLM requests, with explicit document boundaries.

Spec §2.3, with the boundary bug fixed. Documents are walked in groups of `docs_per_group`; their sentences
(from the project's one sentence splitter) are added `sentences_per_step` at a time, and a chunk is emitted as
soon as its token count exceeds `token_threshold` (the remainder of a group is emitted whatever its size).
A chunk is a list of `Piece`s, each a run of consecutive sentences of ONE document, so a chunk may hold the
end of one document and the start of the next. Each piece is sent followed by `<end>`, and the answer must
give exactly one passage per piece (checked by the parser): a dropped or extra marker is a failure, never a
silent shift of text between documents. Inter-sentence whitespace of the source is kept: a document's
output is its pieces' outputs joined by the separator that preceded each piece in the original.

Token counting is offline (GPT-2's tokenizer needs a hub download): `gpt2_pieces` counts the pieces of
GPT-2's byte-level pre-tokenisation regex (via `tokenizers`), which equals the GPT-2 token count for common
words and undercounts only rare words that BPE splits further; `words` counts whitespace words; a folder with
`tokenizer.json` gives exact counts for that tokenizer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyhelen.simplify.config import ChunkingGenre


def make_token_counter(spec: str) -> Callable[[str], int]:
    """`count(text) -> int` for `simplify.chunking.token_counter`."""
    if spec == "words":
        return lambda text: len(text.split())
    if spec == "gpt2_pieces":
        from tokenizers.pre_tokenizers import ByteLevel

        pre = ByteLevel(add_prefix_space=False, use_regex=True)
        return lambda text: len(pre.pre_tokenize_str(text))
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(spec) / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True)
class Piece:
    """Consecutive sentences of one document inside a chunk."""

    doc: int
    """Index of the document in the list given to `make_chunks`."""
    lead: str
    """The whitespace that preceded this piece in its document ("" for a document's first piece)."""
    text: str


@dataclass(frozen=True)
class Chunk:
    pieces: tuple[Piece, ...]

    @property
    def text(self) -> str:
        """What fills `{paragraph}`: every piece followed by its `<end>` marker."""
        return "\n".join(f"{piece.text} <end>" for piece in self.pieces)


def sentence_spans(text: str, split: Callable[[str], list[str]]) -> list[tuple[str, str]]:
    """(preceding whitespace, sentence) for each sentence, located in `text` so the layout can be rebuilt."""
    spans = []
    position = 0
    for sentence in split(text):
        start = text.find(sentence, position)
        if start < 0:  # the splitter normalised something; fall back to a single space
            spans.append((" " if spans else "", sentence))
            continue
        spans.append((text[position:start] if spans else "", sentence))
        position = start + len(sentence)
    return spans


def make_chunks(
    texts: list[str], settings: ChunkingGenre, split: Callable[[str], list[str]], count: Callable[[str], int]
) -> list[Chunk]:
    """Cut documents into chunks (see the module docstring). Empty documents get no pieces."""
    chunks: list[Chunk] = []
    for start in range(0, len(texts), settings.docs_per_group):
        sentences = [
            (doc, lead, sentence)
            for doc in range(start, min(start + settings.docs_per_group, len(texts)))
            for lead, sentence in sentence_spans(texts[doc], split)
        ]
        current: list[tuple[int, str, str]] = []
        tokens = 0
        for step in range(0, len(sentences), settings.sentences_per_step):
            batch = sentences[step : step + settings.sentences_per_step]
            current.extend(batch)
            tokens += sum(count(sentence) for _, _, sentence in batch)
            if tokens > settings.token_threshold:
                chunks.append(_chunk(current))
                current, tokens = [], 0
        if current:
            chunks.append(_chunk(current))
    return chunks


def _chunk(sentences: list[tuple[int, str, str]]) -> Chunk:
    pieces: list[Piece] = []
    for doc, lead, sentence in sentences:
        if pieces and pieces[-1].doc == doc:
            last = pieces[-1]
            pieces[-1] = Piece(doc, last.lead, f"{last.text}{lead or ' '}{sentence}")
        else:
            pieces.append(Piece(doc, lead, sentence))
    return Chunk(tuple(pieces))


def assemble(num_docs: int, chunks: list[Chunk], outputs: list[list[str] | None]) -> list[str | None]:
    """Per-document text from per-chunk passages; None for a document any of whose chunks failed.

    Args:
        num_docs: documents given to `make_chunks`.
        chunks: its chunks.
        outputs: per chunk, the parsed passages (one per piece) or None when the chunk failed.
    """
    parts: list[list[str] | None] = [[] for _ in range(num_docs)]
    for chunk, passages in zip(chunks, outputs, strict=True):
        for index, piece in enumerate(chunk.pieces):
            if passages is None:
                parts[piece.doc] = None
            elif parts[piece.doc] is not None:
                parts[piece.doc].append((piece.lead if parts[piece.doc] else "") + passages[index])
    return ["".join(p) if p else None for p in parts]
