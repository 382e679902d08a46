"""Params of the tokens phase: `vocab`, `tokenizer`, `compose` and `pack`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from tinyhelen.core.config import (
    Corpus,
    Genre,
    NonNegInt,
    PosInt,
    Probability,
    Section,
    Split,
    Variant,
    unique_list,
)

Family = Literal["causal", "bert", "xlnet"]


class VocabConfig(Section):
    """What `vocab` measures (see `tinyhelen.tokens.vocab`)."""

    splits: Annotated[list[Split], Field(min_length=1)]
    """Splits pooled into each (variant, genre) measurement."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres to measure, each for ori and leaner."""
    word_list: Literal["leaner", "wordfreq"]
    """The reference word list: `leaner` = the most frequent words of the leaner training text (ties broken
    alphabetically), `wordfreq` = the most frequent English words of the `wordfreq` package."""
    word_list_size: PosInt
    """How many words the reference list holds (the paper's preschool vocabulary: 2000)."""

    _unique_lists = field_validator("splits", "genres")(unique_list)


class TokenizerConfig(Section):
    """The byte-level BPE tokenizers `tokenizer` trains, one per model family (see `tinyhelen.tokens.tokenizer`)."""

    variant: Variant
    """Which corpus the BPE merges are learnt from (the paper: leaner); always its train split."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres of training text."""
    families: Annotated[list[Family], Field(min_length=1)]
    """Tokenizers to build: `causal` (Llama, Mamba), `bert`, `xlnet`."""
    vocab_size: Annotated[StrictInt, Field(ge=262, le=65536)]
    """Entries in each vocabulary, specials and all 256 byte symbols included (262..65536: ids fit uint16)."""
    min_frequency: PosInt
    """A pair is merged only if it occurs at least this often."""
    model_max_length: PosInt
    """The longest input the tokenizers declare (`model_max_length`); the paper's models take 1024."""

    _unique_lists = field_validator("genres", "families")(unique_list)


class ComposeConfig(Section):
    """How `compose` chooses documents to a token budget (see `tinyhelen.tokens.compose`)."""

    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Corpora to write: `leaner` and/or `ori`."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres to compose (the paper pre-trains on the five natural-language genres)."""
    ratios: dict[Genre, Annotated[float, Field(ge=0)]]
    """Share of the train budget per genre (the paper's: web .60, book .05, wiki .025, textbook .075,
    conversation .025, code .175, math .025; they sum to .975 and are not renormalised)."""
    budget_tokens: NonNegInt
    """Train token budget, counted on the `reference` variant; 0 takes every document."""
    eval_fraction: Probability
    """Validation and test each get this fraction of the train budget, per genre (the paper: 0.05)."""
    reference: Variant
    """The variant whose token counts fill the budget (the paper: ori, the original text)."""
    count_with: Family
    """The tokenizer family that counts tokens (written by `tokenizer`) when `budget_unit` is `tokenizer`."""
    budget_unit: StrictStr = "tokenizer"
    """What `budget_tokens` counts: `tokenizer` (the `count_with` 2K tokenizer: about 2.33 tokens per ori web
    word), `gpt2_pieces` (GPT-2's pre-tokenisation pieces, offline; the paper's sampler counted GPT-2 tokens,
    about 1.35 per word, and these match them on common words), `words` (whitespace words), or a folder with a
    `tokenizer.json` (e.g. GPT-2's own, for the paper's exact unit)."""

    @field_validator("budget_unit")
    @classmethod
    def _check_unit(cls, value: str) -> str:
        if value not in ("tokenizer", "gpt2_pieces", "words") and not Path(value, "tokenizer.json").is_file():
            raise ValueError("use tokenizer, gpt2_pieces, words, or a folder holding tokenizer.json")
        return value

    paired_only: StrictBool
    """Choose only documents present in both variants, so leaner and ori hold the same ids."""
    on_absent: Literal["renormalise", "fail"]
    """A composed genre with no documents in a split: share its ratio among the others, or fail."""

    _unique_lists = field_validator("corpora", "genres")(unique_list)

    @model_validator(mode="after")
    def _check_ratios(self) -> ComposeConfig:
        missing = [genre for genre in self.genres if genre not in self.ratios]
        if missing:
            raise ValueError(f"compose.ratios has no ratio for {missing}")
        if not any(self.ratios[genre] > 0 for genre in self.genres):
            raise ValueError("compose.ratios: the composed genres all have ratio 0")
        return self


def _check_even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even (XLNet's permutation language modelling needs an even length)")
    return value


BlockSize = Annotated[StrictInt, Field(ge=8), AfterValidator(_check_even)]


class PerFamilyBlockSize(Section):
    """A row length per tokenizer family."""

    causal: BlockSize
    """Llama and Mamba rows."""
    bert: BlockSize
    """BERT rows."""
    xlnet: BlockSize
    """XLNet rows (the paper: 512)."""


class PackConfig(Section):
    """How `pack` tokenises and writes the token shards (see `tinyhelen.tokens.pack`)."""

    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Composed corpora to pack."""
    families: Annotated[list[Family], Field(min_length=1)]
    """Tokenizer families to pack with (one pack per corpus and family)."""
    block_size: BlockSize | PerFamilyBlockSize
    """Tokens per row, family framing included: one value for every family, or one per family (the paper:
    causal and bert 1024, xlnet 512); even, as XLNet's permutation LM needs."""
    batch_documents: PosInt
    """Documents tokenised per batch."""
    workers: PosInt
    """Processes packing (corpus, family) pairs at once; 1 packs in the stage's own process."""

    _unique_lists = field_validator("corpora", "families")(unique_list)

    @field_validator("block_size", mode="before")
    @classmethod
    def _check_block_sizes(cls, value: Any) -> Any:
        # one clear message per bad length instead of pydantic's one per union member
        for name, size in value.items() if isinstance(value, dict) else [(None, value)]:
            if isinstance(size, int) and not isinstance(size, bool):
                where = f"{name}: " if name else ""
                if size < 8:
                    raise ValueError(f"{where}must be at least 8")
                if size % 2:
                    raise ValueError(
                        f"{where}must be even (XLNet's permutation language modelling needs an even length)"
                    )
        return value

    def block_size_for(self, family: str) -> int:
        """The row length of one family's packs."""
        if isinstance(self.block_size, PerFamilyBlockSize):
            return getattr(self.block_size, family)
        return self.block_size
