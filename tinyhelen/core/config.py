"""The params machinery every phase shares: the strict `Section` base, shared value types, YAML reading and
flattening, and the `sentences` section (the one sentence splitter, used by several phases).

Each pipeline phase owns its params sections in its own `config.py` (`tinyhelen.corpus.config`, ...);
`tinyhelen.params` assembles them into the whole params.yaml. Every field is required (no defaults in code),
so a value can never silently come from somewhere else.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from tinyhelen.core.errors import ConfigError
from tinyhelen.core.release import BUDGET_DIRS, EVAL_SETS, GENRES, GLUE_TASKS, SPLITS, VARIANTS

Genre = Literal[GENRES]
Split = Literal[SPLITS]
Variant = Literal[VARIANTS]
GlueTask = Literal[GLUE_TASKS]
EvalSet = Literal[EVAL_SETS]
Budget = Literal[tuple(BUDGET_DIRS)]
Corpus = Literal[VARIANTS]
NonNegInt = Annotated[StrictInt, Field(ge=0)]


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, and values cannot change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def unique_list(values: list) -> list:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"lists {duplicates} more than once")
    return values


def data_source(value: str) -> str:
    """A data source: `sample`, a local folder, or `hf:<owner>/<name>[@revision]` (checked for shape only)."""
    if not value.strip():
        raise ValueError("must not be empty")
    if value.startswith("hf:"):
        repo = value[3:].split("@", 1)[0]
        if repo.count("/") != 1 or not all(repo.split("/")):
            raise ValueError("a hub source looks like 'hf:<owner>/<name>[@revision]'")
    return value


def fraction(value: Any) -> Any:
    """`"1/6"` -> the nearest float to 1/6 (exactly what 1 / 6 gives); anything else unchanged."""
    if isinstance(value, str) and "/" in value:
        from fractions import Fraction

        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"not a fraction: {value!r}") from None
    return value


PosInt = Annotated[StrictInt, Field(ge=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class SentencesConfig(Section):
    """The sentence splitter every stage uses (see `tinyhelen.core.sentences`)."""

    splitter: Literal["spacy", "pysbd", "punkt"]
    """`spacy` (rule-based sentencizer), `pysbd` (pySBD rules) or `punkt` (NLTK Punkt trained on the corpus)."""


def format_key(loc: tuple) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _known_keys(root: type[BaseModel], loc: tuple) -> tuple[str, list[str]]:
    """The dotted prefix of `loc[:-1]` and the keys the section there accepts (empty if not a section)."""
    model = root
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "", []
        model = annotation
    return format_key(loc[:-1]), list(model.model_fields)


def did_you_mean(root: type[BaseModel], loc: tuple) -> str:
    """`"; did you mean 'pretrain.max_steps'?"` for an unknown key close to a known one, else ''."""
    prefix, known = _known_keys(root, loc)
    matches = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if not matches:
        return ""
    return f"; did you mean '{prefix + '.' if prefix else ''}{matches[0]}'?"


def format_errors(error: ValidationError, path: str, root: type[BaseModel] | None = None) -> str:
    """One line per problem, naming the full key; unknown keys close to a known one of `root` get a
    "did you mean"."""
    lines = []
    for item in error.errors():
        key = format_key(item["loc"])
        if item["type"] == "extra_forbidden":
            hint = did_you_mean(root, item["loc"]) if root is not None else ""
            lines.append(f"{path}: unknown key '{key}' (value: {item['input']!r}){hint}")
        elif item["type"] == "missing":
            lines.append(f"{path}: missing key '{key}'")
        else:
            message = item["msg"].removeprefix("Value error, ")
            if not key:  # a rule across sections
                lines.append(f"{path}: {message}")
                continue
            got = item["input"]
            got = "" if isinstance(got, dict) else f" (got {got!r})"  # a section's rule names its own values
            lines.append(f"{path}: invalid value for '{key}': {message}{got}")
    return "\n".join(lines)


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file; `ConfigError` naming the file (and line) when it is missing or not valid YAML."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from None


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
