"""Params of the corpus phase: `data` (what ingest reads), `ingest` and `clean`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from tinyhelen.core.config import (
    Budget,
    EvalSet,
    Genre,
    GlueTask,
    NonNegInt,
    PosInt,
    Probability,
    Section,
    Split,
    Variant,
    data_source,
    unique_list,
)


class DataConfig(Section):
    """Which corpus to read and what to select from it (used by `ingest`)."""

    source: StrictStr
    """`sample` (the bundled corpus in data/sample), a local folder in the TinyHelen release layout, or
    `hf:<owner>/<name>[@revision]` for the Hugging Face dataset repo (e.g. `hf:EmpathYang/TinyHelen@main`)."""
    budget: Budget
    """Token budget folder set, as the release defines it: `100M` reads the `10M/` plus the `100M/` folders."""
    variants: Annotated[list[Variant], Field(min_length=1)]
    """Corpus variants to read: `ori` (original text) and/or `leaner` (simplified text)."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Pre-training genres to read."""
    splits: Annotated[list[Split], Field(min_length=1)]
    """Splits to read."""
    glue_tasks: list[GlueTask]
    """Leaner-GLUE tasks to read (all of their split files)."""
    eval_sets: list[EvalSet]
    """Leaner-Eval question files to read."""
    instructions: StrictBool
    """Read the instruction set (`<variant>/instruction*.jsonl`)."""
    on_damaged: Literal["warn", "fail"]
    """A file readable only up to some point (e.g. a truncated .zst): keep what was read and warn, or fail."""
    on_bad_record: Literal["fail", "skip"]
    """A malformed record: fail naming file:line, or skip it and count it in the metrics."""

    _check_source = field_validator("source")(data_source)

    _unique_lists = field_validator("variants", "genres", "splits", "glue_tasks", "eval_sets")(unique_list)


class IngestConfig(Section):
    """How `ingest` reads and writes."""

    max_documents: NonNegInt
    """Keep at most this many documents per (variant, split, genre) and per GLUE/eval file; 0 keeps all.
    Meant for quick experiments on the full release."""
    hub_cache_dir: StrictStr | None
    """Where hub downloads are cached; null uses the Hugging Face default (HF_HOME / HF_HUB_CACHE)."""


class UnicodeRule(Section):
    """NFKC, control and zero-width characters, line endings, whitespace repair."""

    enabled: StrictBool
    """Apply the rule."""


class MarkupRule(Section):
    """HTML and wiki markup, entities, leftover template syntax and LLM markers."""

    enabled: StrictBool
    """Apply the rule."""


class BoilerplateRule(Section):
    """Site furniture: cookie/subscribe/share/navigation/promotion lines and lines repeated within or across
    documents."""

    enabled: StrictBool
    """Apply the rule."""
    genres: list[Genre]
    """Genres it applies to (web pages carry boilerplate; books repeat chapter headings on purpose)."""
    max_words: PosInt
    """Only lines of at most this many words can be boilerplate."""
    min_repeats_in_doc: Annotated[StrictInt, Field(ge=2)]
    """A short line occurring this many times in one document is boilerplate."""
    min_docs: Annotated[StrictInt, Field(ge=2)]
    """A short line occurring in this many documents of the genre (all splits) is boilerplate."""


class PrivateDataRule(Section):
    """E-mails, URLs, IP addresses, phone and card numbers replaced by generic stand-ins (not in math)."""

    enabled: StrictBool
    """Apply the rule."""
    email: StrictStr
    """Stand-in for an e-mail address."""
    url: StrictStr
    """Stand-in for a URL."""
    phone: StrictStr
    """Stand-in for a phone number."""
    ip: StrictStr
    """Stand-in for an IP address."""
    card: StrictStr
    """Stand-in for a payment-card number (13-19 digits passing the Luhn check)."""


class LanguageRule(Section):
    """Keep English (py3langid): drop foreign paragraphs, reject mostly-foreign documents (prose genres)."""

    enabled: StrictBool
    """Apply the rule."""
    threshold: Probability
    """A paragraph counts as foreign only if the detector's probability for its language is at least this."""
    min_paragraph_chars: PosInt
    """Lines shorter than this are too short to judge and are kept."""
    min_english_share: Probability
    """Reject a document when less than this share of its judged characters is English."""


class LengthRule(Section):
    """Document length limits, in characters of cleaned text."""

    enabled: StrictBool
    """Apply the rule."""
    genres: list[Genre]
    """Genres it applies to (the release filtered text genres only; code and math items are short)."""
    min_chars: NonNegInt
    """Reject documents shorter than this (the original pipeline dropped those of 100 characters or fewer)."""
    max_chars: PosInt
    """Reject documents longer than this."""

    @model_validator(mode="after")
    def _check_range(self) -> LengthRule:
        if self.max_chars <= self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) must exceed min_chars ({self.min_chars})")
        return self


class ExactDedupRule(Section):
    """Exact duplicates by hash of the case- and whitespace-normalised text; the first is kept."""

    enabled: StrictBool
    """Apply the rule."""


class NearDedupRule(Section):
    """Near duplicates by MinHash LSH over word shingles; the first is kept."""

    enabled: StrictBool
    """Apply the rule."""
    genres: list[Genre | Literal["instruction"]]
    """Genres it applies to. Templated genres (math problems that differ only in their numbers, code tasks
    built from one prompt template) look alike without being duplicates."""
    shingle_size: PosInt
    """Words per shingle."""
    num_perm: Annotated[StrictInt, Field(ge=16, le=1024)]
    """MinHash permutations (signature length)."""
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)]
    """Estimated Jaccard similarity above which two documents are near duplicates."""


class CleanConfig(Section):
    """The clean stage: rules in the order they run, and the worker processes."""

    workers: NonNegInt
    """Worker processes for the per-document rules (0: one per CPU core; 1: no pool). Results do not depend on it."""
    unicode: UnicodeRule
    """Unicode normalisation and whitespace repair."""
    markup: MarkupRule
    """Markup removal."""
    boilerplate: BoilerplateRule
    """Boilerplate lines."""
    private_data: PrivateDataRule
    """Private-data stand-ins."""
    language: LanguageRule
    """English detection."""
    length: LengthRule
    """Length limits."""
    exact_dedup: ExactDedupRule
    """Exact duplicates."""
    near_dedup: NearDedupRule
    """Near duplicates."""
