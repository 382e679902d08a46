"""Sentence chunking, document boundaries, the alignment check and token counting."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from tinyhelen.simplify.chunking import (
    Chunk,
    Piece,
    assemble,
    make_chunks,
    make_token_counter,
    sentence_spans,
)
from tinyhelen.simplify.config import ChunkingConfig, ChunkingGenre


def split(text: str) -> list[str]:  # a transparent splitter: one sentence per full stop
    return [s.strip() + "." for s in text.replace("\n", " ").split(".") if s.strip()]


def words(text: str) -> int:
    return len(text.split())


def test_token_counters():
    pieces = make_token_counter("gpt2_pieces")
    assert pieces("Hello world, it's me!") == 7  # Hello / ' world' / ',' / ' it' / "'s" / ' me' / '!'
    assert make_token_counter("words")("a b  c") == 3


def test_tokenizer_folder_counter(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    assert make_token_counter(str(tmp_path))("a b zzz") == 3


def test_token_counter_param_is_validated():
    settings = {"docs_per_group": 1, "sentences_per_step": 1, "token_threshold": 5}
    with pytest.raises(ValueError, match="gpt2_pieces, words, or a folder"):
        ChunkingConfig(
            token_counter="gpt2", **{g: settings for g in ("web", "book", "wiki", "textbook", "conversation")}
        )


def test_sentence_spans_keep_layout():
    text = "Title\n\nFirst one. Second one.\nThird."
    spans = sentence_spans(text, lambda t: ["Title", "First one.", "Second one.", "Third."])
    assert spans == [("", "Title"), ("\n\n", "First one."), (" ", "Second one."), ("\n", "Third.")]


def test_chunks_emit_past_threshold_and_keep_remainder():
    doc = "One two three. Four five six. Seven eight. Nine."
    chunks = make_chunks([doc], ChunkingGenre(docs_per_group=1, sentences_per_step=1, token_threshold=4), split, words)
    assert [c.text for c in chunks] == ["One two three. Four five six. <end>", "Seven eight. Nine. <end>"]


def test_chunks_span_documents_with_explicit_boundaries():
    docs = ["A a. B b.", "C c. D d.", "E e."]
    settings = ChunkingGenre(docs_per_group=2, sentences_per_step=2, token_threshold=5)
    chunks = make_chunks(docs, settings, split, words)
    # group 1 = docs 0 and 1 (four sentences, two per step); group 2 = doc 2 alone
    assert [[(p.doc, p.text) for p in c.pieces] for c in chunks] == [
        [(0, "A a. B b."), (1, "C c. D d.")],
        [(2, "E e.")],
    ]
    assert chunks[0].text == "A a. B b. <end>\nC c. D d. <end>"


def test_assemble_rebuilds_documents_and_fails_whole_documents():
    chunks = [
        Chunk((Piece(0, "", "a."), Piece(1, "", "b."))),
        Chunk((Piece(1, "\n", "c."),)),
        Chunk((Piece(2, "", "d."),)),
    ]
    assert assemble(3, chunks, [["A.", "B."], ["C."], ["D."]]) == ["A.", "B.\nC.", "D."]
    # a failed chunk fails every document it touches, and only those
    assert assemble(3, chunks, [["A.", "B."], None, ["D."]]) == ["A.", None, "D."]


def test_sample_chunking_uses_params(params):
    from tinyhelen.core.sentences import make_splitter

    text = (REPO_ROOT / "README.md").read_text()[:3000]
    chunks = make_chunks(
        [text],
        params.simplify.chunking.web,
        make_splitter(params.sentences),
        make_token_counter(params.simplify.chunking.token_counter),
    )
    assert len(chunks) >= 2 and all(len(c.pieces) == 1 for c in chunks)
