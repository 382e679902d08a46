"""Typed, frozen configuration loaded strictly from params.yaml.

params.yaml is the only place hyperparameters live: every field here is required (no defaults in code), so a
value can never silently come from somewhere else. Each top-level section maps to one frozen pydantic model;
`load_params` validates the whole file before any work starts and raises `ConfigError` naming the full key
and the bad value, e.g. `params.yaml: unknown key 'ingest.nosuch' (value: 1)`.

    from tinyhelen.config import load_params
    params = load_params("params.yaml")
    params.data.source, params.seed
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError
from pydantic import field_validator, model_validator

from tinyhelen.errors import ConfigError
from tinyhelen.release import BUDGET_DIRS, EVAL_SETS, GENRES, GLUE_TASKS, SPLITS, VARIANTS

Genre = Literal[GENRES]
Split = Literal[SPLITS]
Variant = Literal[VARIANTS]
GlueTask = Literal[GLUE_TASKS]
EvalSet = Literal[EVAL_SETS]
Budget = Literal[tuple(BUDGET_DIRS)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, and values cannot change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _unique(values: list) -> list:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"lists {duplicates} more than once")
    return values


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

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if value.startswith("hf:"):
            repo = value[3:].split("@", 1)[0]
            if repo.count("/") != 1 or not all(repo.split("/")):
                raise ValueError("a hub source looks like 'hf:<owner>/<name>[@revision]'")
        return value

    _unique_lists = field_validator("variants", "genres", "splits", "glue_tasks", "eval_sets")(_unique)


class IngestConfig(Section):
    """How `ingest` reads and writes."""

    max_documents: NonNegInt
    """Keep at most this many documents per (variant, split, genre) and per GLUE/eval file; 0 keeps all.
    Meant for quick experiments on the full release."""
    hub_cache_dir: StrictStr | None
    """Where hub downloads are cached; null uses the Hugging Face default (HF_HOME / HF_HUB_CACHE)."""


class SentencesConfig(Section):
    """The sentence splitter every stage uses (see `tinyhelen.sentences`)."""

    splitter: Literal["spacy", "pysbd", "punkt"]
    """`spacy` (rule-based sentencizer), `pysbd` (pySBD rules) or `punkt` (NLTK Punkt trained on the corpus)."""


Family = Literal["causal", "bert", "xlnet"]
Corpus = Literal[VARIANTS]
PosInt = Annotated[StrictInt, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]


class VocabConfig(Section):
    """What `vocab` measures (see `tinyhelen.vocab`)."""

    splits: Annotated[list[Split], Field(min_length=1)]
    """Splits pooled into each (variant, genre) measurement."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres to measure, each for ori and leaner."""
    word_list: Literal["leaner", "wordfreq"]
    """The reference word list: `leaner` = the most frequent words of the leaner training text (ties broken
    alphabetically), `wordfreq` = the most frequent English words of the `wordfreq` package."""
    word_list_size: PosInt
    """How many words the reference list holds (the paper's preschool vocabulary: 2000)."""

    _unique_lists = field_validator("splits", "genres")(_unique)


class TokenizerConfig(Section):
    """The byte-level BPE tokenizers `tokenizer` trains, one per model family (see `tinyhelen.tokenizer`)."""

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

    _unique_lists = field_validator("genres", "families")(_unique)


class ComposeConfig(Section):
    """How `compose` chooses documents to a token budget (see `tinyhelen.compose`)."""

    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Corpora to write: `leaner` and/or `ori`."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres to compose (the paper pre-trains on the five natural-language genres)."""
    ratios: dict[Genre, Annotated[float, Field(ge=0)]]
    """Share of the train budget per genre (the paper's: web .60, book .05, wiki .025, textbook .075,
    conversation .025, code .175, math .025; they sum to .975 and are not renormalised)."""
    budget_tokens: NonNegInt
    """Train token budget, counted on the `reference` variant; 0 takes every document."""
    eval_fraction: Fraction
    """Validation and test each get this fraction of the train budget, per genre (the paper: 0.05)."""
    reference: Variant
    """The variant whose token counts fill the budget (the paper: ori, the original text)."""
    count_with: Family
    """The tokenizer family that counts tokens (written by `tokenizer`)."""
    paired_only: StrictBool
    """Choose only documents present in both variants, so leaner and ori hold the same ids."""
    on_absent: Literal["renormalise", "fail"]
    """A composed genre with no documents in a split: share its ratio among the others, or fail."""

    _unique_lists = field_validator("corpora", "genres")(_unique)

    @model_validator(mode="after")
    def _check_ratios(self) -> "ComposeConfig":
        missing = [genre for genre in self.genres if genre not in self.ratios]
        if missing:
            raise ValueError(f"compose.ratios has no ratio for {missing}")
        if not any(self.ratios[genre] > 0 for genre in self.genres):
            raise ValueError("compose.ratios: the composed genres all have ratio 0")
        return self


class PackConfig(Section):
    """How `pack` tokenises and writes the token shards (see `tinyhelen.pack`)."""

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

    _unique_lists = field_validator("corpora", "families")(_unique)

    @field_validator("block_size")
    @classmethod
    def _check_even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even (XLNet's permutation language modelling needs an even length)")
        return value


class Params(BaseModel):
    """The whole params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: NonNegInt
    """Global seed for every stage (Python, NumPy, torch and the explicit generators)."""
    data: DataConfig
    sentences: SentencesConfig
    ingest: IngestConfig
    vocab: VocabConfig
    """The vocab stage (vocabulary and complexity metrics)."""
    tokenizer: TokenizerConfig
    """The tokenizer stage (2K byte-level BPE per model family)."""
    compose: ComposeConfig
    """The compose stage (documents by genre ratio up to a token budget)."""
    pack: PackConfig
    """The pack stage (uint16 token shards)."""


def _format_key(loc: tuple) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _format_errors(error: ValidationError, path: str) -> str:
    lines = []
    for item in error.errors():
        key = _format_key(item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"{path}: unknown key '{key}' (value: {item['input']!r})")
        elif item["type"] == "missing":
            lines.append(f"{path}: missing key '{key}'")
        else:
            message = item["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: invalid value for '{key}': {message} (got {item['input']!r})")
    return "\n".join(lines)


def validate_params(raw: Any, path: str = "params.yaml") -> Params:
    """Validate an already-parsed params mapping; raise `ConfigError` naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, path)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate params.yaml.

    Args:
        path: the params file.

    Returns:
        The validated, frozen `Params`.

    Raises:
        ConfigError: the file is missing, is not valid YAML, or any key or value is wrong.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from None
    return validate_params(raw, str(path))


def with_changes(section: BaseModel, **changes: Any) -> BaseModel:
    """A copy of a config section with some fields changed, validated like a loaded one (handy in tests)."""
    return type(section).model_validate({**section.model_dump(), **changes})


def to_plain(tree: Any) -> Any:
    """Config models (at any depth of dicts) as plain JSON-able dicts."""
    if isinstance(tree, BaseModel):
        return tree.model_dump(mode="json")
    if isinstance(tree, dict):
        return {key: to_plain(value) for key, value in tree.items()}
    return tree


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts/models into `{"a.b.c": value}` (lists stay values), as MLflow params want."""
    tree = to_plain(tree)
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
