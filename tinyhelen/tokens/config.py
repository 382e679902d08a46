"""Params of the tokens phase: `vocab`, `tokenizer`, `compose` and `pack`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

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
    """The tokenizer family that counts tokens (written by `tokenizer`)."""
    paired_only: StrictBool
    """Choose only documents present in both variants, so leaner and ori hold the same ids."""
    on_absent: Literal["renormalise", "fail"]
    """A composed genre with no documents in a split: share its ratio among the others, or fail."""

    _unique_lists = field_validator("corpora", "genres")(unique_list)

    @model_validator(mode="after")
    def _check_ratios(self) -> "ComposeConfig":
        missing = [genre for genre in self.genres if genre not in self.ratios]
        if missing:
            raise ValueError(f"compose.ratios has no ratio for {missing}")
        if not any(self.ratios[genre] > 0 for genre in self.genres):
            raise ValueError("compose.ratios: the composed genres all have ratio 0")
        return self


class PackConfig(Section):
    """How `pack` tokenises and writes the token shards (see `tinyhelen.tokens.pack`)."""

    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Composed corpora to pack."""
    families: Annotated[list[Family], Field(min_length=1)]
    """Tokenizer families to pack with (one pack per corpus and family)."""
    block_size: Annotated[StrictInt, Field(ge=8)]
    """Tokens per row, family framing included (the paper: 1024); even, as XLNet's permutation LM needs."""
    batch_documents: PosInt
    """Documents tokenised per batch."""
    workers: PosInt
    """Processes packing (corpus, family) pairs at once; 1 packs in the stage's own process."""

    _unique_lists = field_validator("corpora", "families")(unique_list)

    @field_validator("block_size")
    @classmethod
    def _check_even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even (XLNet's permutation language modelling needs an even length)")
        return value
