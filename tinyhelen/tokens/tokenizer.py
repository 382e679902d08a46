"""Byte-level BPE tokenizers with exactly `vocab_size` entries, one per model family (spec §3, fixed).

Each family's vocabulary is its special tokens (ids 0..k-1), then all 256 byte symbols, then the merges
learnt from the training text, so that no byte is ever lost: the original tokenizers dropped bytes such as
° ² ½ to make room for their specials and silently deleted them from text. Each tokenizer carries its
family's templates, with a separator between the two texts of a pair (the original added none):

    causal  <pad> <s> </s>                   "A",                    "A </s> B </s>"
    bert    [PAD] [UNK] [CLS] [SEP] [MASK]   "[CLS] A [SEP]",        "[CLS] A [SEP] B [SEP]"
    xlnet   <pad> <sep> <cls> <mask>         "A <sep> <cls>",        "A <sep> B <sep> <cls>"  (pads left)

A single causal text gets no end token, so a prompt given to `generate` or `pipeline("text-generation")` is
continued rather than already ended (packing appends `</s>` to each document itself). The mask tokens
(`[MASK]`, `<mask>`) absorb the space before them (`lstrip`, as RoBERTa's and XLNet's do), so
`"the dog [MASK] fast"` has no stray space token before the mask.

`FAMILY_REGISTRY` also says how `tinyhelen.tokens.pack` frames pre-training rows: the token that ends each
document in the packed stream, and the tokens that open and close every row.

    tokenizer = train_bpe(texts, "bert", vocab_size=2000, min_frequency=2, model_max_length=1024)
    tokenizer.save_pretrained("data/tokenizers/bert")       # AutoTokenizer.from_pretrained loads it
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from tinyhelen.core.documents import corpus_file, iter_documents, training_text
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import atomic_dir, sha256_file
from tinyhelen.tokens.config import TokenizerConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/tokenizer.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("variant", "documents", "families.*.vocab_size", "families.*.tokens_per_word")

#: The byte-level alphabet: one printable symbol per byte value (GPT-2's mapping).
BYTE_ALPHABET = tuple(pre_tokenizers.ByteLevel.alphabet())

#: Chunks no byte-level pre-token crosses: a run of Unicode White_Space (exactly the characters the
#: ByteLevel pre-tokenizer's `\s` matches) and the non-space run after it.
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
CHUNKS = re.compile(f"[{_WS}]*[^{_WS}]+|[{_WS}]+")


@dataclass(frozen=True)
class Family:
    """A model family's special tokens, templates and pre-training row framing."""

    specials: tuple[str, ...]
    """Special tokens, in id order from 0."""
    roles: dict[str, str]
    """transformers' special-token attributes (`eos_token`, `cls_token`, ...) -> token."""
    single: str
    """Template for one text (tokenizers' TemplateProcessing syntax)."""
    pair: str
    """Template for a pair of texts; it always separates them."""
    doc_end: str
    """Appended to every document in a packed stream."""
    row_prefix: tuple[str, ...]
    """Tokens that open every packed row."""
    row_suffix: tuple[str, ...]
    """Tokens that close every packed row."""
    padding_side: str
    """Where padding goes when batches are padded."""
    model_input_names: tuple[str, ...]
    """What the tokenizer returns: BERT and XLNet take segment ids (`token_type_ids`), causal models not."""

    def added_token(self, token: str) -> AddedToken:
        """A special token as the tokenizer holds it: the mask token strips the whitespace to its left."""
        return AddedToken(token, special=True, normalized=False, lstrip=token == self.roles.get("mask_token"))


FAMILY_REGISTRY: dict[str, Family] = {
    "causal": Family(
        specials=("<pad>", "<s>", "</s>"),
        roles={"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>"},
        single="$A:0",
        pair="$A:0 </s>:0 $B:1 </s>:1",
        doc_end="</s>",
        row_prefix=(),
        row_suffix=(),
        padding_side="right",
        model_input_names=("input_ids", "attention_mask"),
    ),
    "bert": Family(
        specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        roles={
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        },
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        doc_end="[SEP]",
        row_prefix=("[CLS]",),
        row_suffix=("[SEP]",),
        padding_side="right",
        model_input_names=("input_ids", "token_type_ids", "attention_mask"),
    ),
    "xlnet": Family(
        specials=("<pad>", "<sep>", "<cls>", "<mask>"),
        roles={"pad_token": "<pad>", "sep_token": "<sep>", "cls_token": "<cls>", "mask_token": "<mask>"},
        single="$A:0 <sep>:0 <cls>:2",
        pair="$A:0 <sep>:0 $B:1 <sep>:1 <cls>:2",
        doc_end="<sep>",
        row_prefix=(),
        row_suffix=("<sep>", "<cls>"),
        padding_side="left",
        model_input_names=("input_ids", "token_type_ids", "attention_mask"),
    ),
}


def _backend() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def _post_processor(family: Family, tokenizer: Tokenizer) -> processors.PostProcessor:
    used = sorted({t for t in family.specials if t in family.single or t in family.pair})
    return processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=family.single, pair=family.pair, special_tokens=[(t, tokenizer.token_to_id(t)) for t in used]
            ),
        ]
    )


def check_vocabulary(tokenizer: Tokenizer, family: Family, vocab_size: int) -> None:
    """Raise `DataError` unless the vocabulary has exactly `vocab_size` entries, the specials first and
    every byte symbol."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    if len(vocab) != vocab_size:
        raise DataError(
            f"the tokenizer has {len(vocab)} entries, not tokenizer.vocab_size={vocab_size}: "
            "the training text has too few distinct pairs to merge (more text or a lower "
            "tokenizer.min_frequency / tokenizer.vocab_size)"
        )
    for expected_id, token in enumerate(family.specials):
        if vocab.get(token) != expected_id:
            raise DataError(f"special token {token} has id {vocab.get(token)}, expected {expected_id}")
    lost = [symbol for symbol in BYTE_ALPHABET if symbol not in vocab]
    if lost:
        raise DataError(f"the tokenizer lost {len(lost)} byte symbols: {lost[:10]}")


def train_bpe(
    texts: Iterable[str],
    family_name: str,
    *,
    vocab_size: int,
    min_frequency: int,
    model_max_length: int,
    length: int | None = None,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer for one family.

    Args:
        texts: training texts (streamed).
        family_name: a key of `FAMILY_REGISTRY`.
        vocab_size: exact number of entries, specials and the 256 byte symbols included.
        min_frequency: a pair is merged only if it occurs this often.
        model_max_length: the longest input the tokenizer declares.
        length: number of texts, for the progress bar.

    Returns:
        A `PreTrainedTokenizerFast` with the family's special tokens, templates and padding side.

    Raises:
        ConfigError: `vocab_size` leaves no room for merges.
        DataError: the text cannot fill the vocabulary.
    """
    from transformers import PreTrainedTokenizerFast  # heavy; pack's worker processes never need it

    family = FAMILY_REGISTRY[family_name]
    floor = len(family.specials) + len(BYTE_ALPHABET)
    if vocab_size <= floor:
        raise ConfigError(
            f"tokenizer.vocab_size={vocab_size} leaves no room for merges: the {family_name} "
            f"tokenizer needs {len(family.specials)} specials + 256 bytes = {floor} entries"
        )
    tokenizer = _backend()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        show_progress=True,
        special_tokens=[family.added_token(t) for t in family.specials],
        initial_alphabet=list(BYTE_ALPHABET),
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=length)
    check_vocabulary(tokenizer, family, vocab_size)
    tokenizer.post_processor = _post_processor(family, tokenizer)
    roles = {role: family.added_token(token) for role, token in family.roles.items()}
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=model_max_length,
        padding_side=family.padding_side,
        clean_up_tokenization_spaces=False,
        model_input_names=list(family.model_input_names),
        **roles,
    )


def load_path(tokenizer_dir: Path) -> Path:
    """The `tokenizer.json` of a tokenizer folder; `DataError` if it is missing."""
    path = Path(tokenizer_dir) / "tokenizer.json"
    if not path.is_file():
        raise DataError(f"{path}: no tokenizer here (run the `tokenizer` stage first)")
    return path


def load_backend(tokenizer_dir: Path) -> Tokenizer:
    """The Rust tokenizer saved in a tokenizer folder (`tokenizer.json`), for fast batch encoding."""
    return Tokenizer.from_file(str(load_path(tokenizer_dir)))


def special_ids(tokenizer: Tokenizer, family_name: str) -> dict[str, int]:
    """Role (`eos`, `cls`, ...) -> id of the family's special tokens in this tokenizer."""
    family = FAMILY_REGISTRY[family_name]
    ids = {role.removesuffix("_token"): tokenizer.token_to_id(token) for role, token in family.roles.items()}
    missing = [role for role, token_id in ids.items() if token_id is None]
    if missing:
        raise DataError(f"the {family_name} tokenizer lacks its special tokens {missing}")
    return ids


class ChunkEncoder:
    """Encode many documents fast, token for token as `tokenizer.encode(text, add_special_tokens=False)`.

    No byte-level pre-token crosses the start of a "chunk", a whitespace run plus the non-whitespace run
    after it (only a single leading space joins a word, and a whitespace piece's look-ahead stops at the next
    non-space). So text is cut into chunks with a plain regex, each distinct chunk is encoded once by the
    Rust tokenizer itself (all new chunks of a batch in one pre-tokenized call), and a document is its
    chunks' ids gathered with numpy: about 3x faster than `encode_batch`, whose time goes mostly to
    re-encoding the same words through the Oniguruma pre-tokenizer regex. The tests check the ids are
    identical (text that spells a special token, e.g. "[SEP]", gets the special id, as with `encode`).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.index: dict[str | int, int] = {}  # chunk (or a document-end key) -> row in the tables below
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self._flat = np.empty(0, dtype=np.int64)  # every known chunk's ids, back to back
        self._starts = self._lengths = np.empty(0, dtype=np.int64)

    def _learn(self, keys: set) -> None:
        keys = [k for k in keys if k not in self.index]
        if not keys:
            return
        chunks = [k for k in keys if isinstance(k, str)]
        ids: dict[str | int, list[int]] = {k: [] if isinstance(k, str) else [-1 - k] for k in keys}
        if chunks:
            # one call, the chunks as the "words" of one pre-tokenized input; word_ids map tokens back
            encoding = self.tokenizer.encode(chunks, is_pretokenized=True, add_special_tokens=False)
            for token_id, word in zip(encoding.ids, encoding.word_ids, strict=False):
                ids[chunks[word]].append(token_id)
        new: list[int] = []
        for key in keys:
            self.index[key] = len(self.starts)
            self.starts.append(len(self._flat) + len(new))
            self.lengths.append(len(ids[key]))
            new += ids[key]
        self._flat = np.concatenate([self._flat, np.asarray(new, dtype=np.int64)])
        self._starts = np.asarray(self.starts, dtype=np.int64)
        self._lengths = np.asarray(self.lengths, dtype=np.int64)

    def encode_stream(self, texts: list[str], doc_end: int | None = None) -> np.ndarray:
        """The texts' token ids as one int64 array, each text followed by `doc_end` when given."""
        chunks: list[str | int] = []
        for text in texts:
            chunks += CHUNKS.findall(text)
            if doc_end is not None:
                chunks.append(-1 - doc_end)  # an int key: never a text chunk
        self._learn(set(chunks))
        which = np.fromiter(map(self.index.__getitem__, chunks), dtype=np.int64, count=len(chunks))
        lengths = self._lengths[which]
        offsets = np.cumsum(lengths) - lengths
        positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(self._starts[which] - offsets, lengths)
        return self._flat[positions]

    def count(self, texts: list[str], batch_size: int = 1000) -> list[int]:
        """Tokens in each text."""
        counts: list[int] = []
        for start in range(0, len(texts), batch_size):
            split = [CHUNKS.findall(text) for text in texts[start : start + batch_size]]
            self._learn(set().union(*split))
            for chunks in split:
                which = np.fromiter(map(self.index.__getitem__, chunks), dtype=np.int64, count=len(chunks))
                counts.append(int(self._lengths[which].sum()))
        return counts


def tokens_per_word(tokenizer: Tokenizer, texts: list[str]) -> float:
    """Mean tokens per whitespace-separated word over `texts` (no special tokens)."""
    words = sum(len(text.split()) for text in texts)
    tokens = len(ChunkEncoder(tokenizer).encode_stream(texts))
    return tokens / words if words else 0.0


@dataclass(frozen=True)
class TokenizerResult:
    """What `build_tokenizers` did: metrics for metrics/tokenizer.json and input hashes for meta.json."""

    metrics: dict[str, Any]
    inputs: dict[str, str]


def _texts(root: Path, split: str, genres: list[str], inputs: dict[str, str]) -> Iterator[str]:
    for genre in genres:
        path = corpus_file(root, split, genre)
        if path.is_file():
            inputs[str(path)] = sha256_file(path)
        for record in iter_documents(path):
            yield training_text(record)


def build_tokenizers(cfg: TokenizerConfig, corpora: dict[str, Path], out_dir: str | Path) -> TokenizerResult:
    """Train one tokenizer per family on the train text of `cfg.variant` and save them under `out_dir`.

    Args:
        cfg: the `tokenizer` params section.
        corpora: variant -> corpus folder (`leaner` -> data/leaner, `ori` -> data/clean/ori).
        out_dir: written whole: `<out_dir>/<family>/` (save_pretrained folders).

    Returns:
        Per family: vocabulary size, merges, special ids, and tokens per word on each variant's train text.
    """
    inputs: dict[str, str] = {}
    texts = list(_texts(corpora[cfg.variant], "train", cfg.genres, inputs))
    if not texts:
        raise DataError(f"no {cfg.variant} training text under {corpora[cfg.variant]}/train/ for genres {cfg.genres}")
    log.info(
        "training %d-entry BPE tokenizers on %d %s documents (%d characters)",
        cfg.vocab_size,
        len(texts),
        cfg.variant,
        sum(map(len, texts)),
    )
    samples = {variant: list(_texts(root, "train", cfg.genres, inputs)) for variant, root in corpora.items()}
    metrics: dict[str, Any] = {"variant": cfg.variant, "documents": len(texts), "families": {}}
    with atomic_dir(out_dir) as tmp:
        for name in cfg.families:
            tokenizer = train_bpe(
                texts,
                name,
                vocab_size=cfg.vocab_size,
                min_frequency=cfg.min_frequency,
                model_max_length=cfg.model_max_length,
                length=len(texts),
            )
            tokenizer.save_pretrained(tmp / name)
            backend = tokenizer.backend_tokenizer  # the Rust tokenizer, for fast batch encoding
            metrics["families"][name] = {
                "vocab_size": len(tokenizer),
                "merges": len(tokenizer) - len(BYTE_ALPHABET) - len(FAMILY_REGISTRY[name].specials),
                "special_ids": special_ids(backend, name),
                "tokens_per_word": {v: round(tokens_per_word(backend, s), 4) for v, s in samples.items()},
            }
            log.info(
                "%s tokenizer: %d entries; tokens/word %s",
                name,
                len(tokenizer),
                metrics["families"][name]["tokens_per_word"],
            )
    return TokenizerResult(metrics=metrics, inputs=inputs)
