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
from pydantic import field_validator

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


class GlueConfig(Section):
    """Leaner-GLUE fine-tuning and scoring (used by `glue` and `glue_summary`; protocol in spec §6.1-6.2)."""

    tasks: Annotated[list[GlueTask], Field(min_length=1)]
    """Tasks to fine-tune on; a task whose train or validation file is missing is reported as skipped."""
    learning_rates: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)]
    """Learning-rate grid; the best LR per task is chosen by mean validation score over seeds."""
    seeds: Annotated[list[NonNegInt], Field(min_length=1)]
    """Fine-tuning seeds (head init, data order, dropout; and the body init of from-scratch baselines)."""
    epochs: dict[GlueTask, Annotated[StrictInt, Field(gt=0)]]
    """Training epochs per task; must name every task in `tasks`."""
    max_steps: NonNegInt
    """Cap on optimiser steps per run (0: no cap, epochs decide)."""
    max_length: Annotated[StrictInt, Field(ge=8)]
    """Maximum tokens per example, specials included; pairs are truncated longest-first."""
    batch_size: Annotated[StrictInt, Field(gt=0)]
    """Training batch size (examples per optimiser step)."""
    eval_batch_size: Annotated[StrictInt, Field(gt=0)]
    """Evaluation batch size (length-sorted, dynamically padded batches)."""
    evals_per_epoch: Annotated[StrictInt, Field(gt=0)]
    """Validation evaluations per epoch (the best one is kept); one more runs at the last step."""
    early_stopping_patience: NonNegInt
    """Stop a run after this many evaluations without a better validation score (0: never stop early)."""
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)]
    """Fraction of the steps spent warming the learning rate up linearly from 0; then linear decay to 0."""
    weight_decay: Annotated[float, Field(ge=0)]
    """AdamW weight decay (not applied to biases and norm weights)."""
    max_grad_norm: Annotated[float, Field(gt=0)]
    """Gradient clipping norm."""
    classifier_dropout: Annotated[float, Field(ge=0, lt=1)]
    """Dropout before the classification head."""
    max_train_examples: NonNegInt
    """Use at most this many training examples per task (0: all); for quick runs on the full data."""
    max_eval_examples: NonNegInt
    """Use at most this many examples per validation/test file (0: all)."""
    device: Literal["auto", "cpu", "cuda"]
    """`auto` picks CUDA when available."""
    precision: Literal["fp32", "bf16"]
    """`bf16` uses autocast (on CUDA; on CPU only where it is faster)."""
    cpu_threads: NonNegInt
    """torch intra-op threads on CPU (0: torch's default, all cores). Tiny models run fastest on 1."""

    _unique_lists = field_validator("tasks", "seeds", "learning_rates")(_unique)

    @field_validator("epochs")
    @classmethod
    def _check_epochs(cls, value: dict, info: Any) -> dict:
        missing = [task for task in info.data.get("tasks", []) if task not in value]
        if missing:
            raise ValueError(f"no epochs given for tasks {missing}")
        return value


class Params(BaseModel):
    """The whole params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: NonNegInt
    """Global seed for every stage (Python, NumPy, torch and the explicit generators)."""
    data: DataConfig
    sentences: SentencesConfig
    ingest: IngestConfig
    glue: GlueConfig


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
