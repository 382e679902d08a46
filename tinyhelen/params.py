"""The whole params.yaml, assembled from the phases' own sections, validated strictly before any work.

Each top-level section maps to one frozen pydantic model owned by its phase (`tinyhelen.<phase>.config`);
`load_params` validates the whole file and raises `ConfigError` naming the full key and the bad value, e.g.
`params.yaml: unknown key 'ingest.nosuch' (value: 1)`. Stages load the file here and hand each library
function its own section. This module only assembles; it is not a DVC dep of any stage (each stage depends on
the config modules of the sections it reads).

    from tinyhelen.params import load_params
    params = load_params("params.yaml")
    params.data.source, params.seed
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from tinyhelen.core.config import NonNegInt, SentencesConfig, format_errors, read_yaml
from tinyhelen.core.errors import ConfigError
from tinyhelen.corpus.config import CleanConfig, DataConfig, IngestConfig
from tinyhelen.curriculum.config import CurriculumConfig, DifficultyConfig
from tinyhelen.eval.config import GenerateConfig, JudgeConfig, ProbeConfig
from tinyhelen.glue.config import GlueConfig
from tinyhelen.instruct.config import InstructConfig, InstructDataConfig
from tinyhelen.pretrain.config import ModelConfig, PretrainConfig
from tinyhelen.report.config import ReportConfig
from tinyhelen.simplify.config import GlueSimplifyConfig, LLMConfig, SimplifyConfig
from tinyhelen.tokens.config import ComposeConfig, PackConfig, TokenizerConfig, VocabConfig


class Params(BaseModel):
    """The whole params.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: NonNegInt
    """Global seed for every stage (Python, NumPy, torch and the explicit generators)."""
    data: DataConfig
    """The corpus and what to read of it."""
    sentences: SentencesConfig
    """The sentence splitter."""
    ingest: IngestConfig
    """The ingest stage."""
    clean: CleanConfig
    """The clean stage."""
    llm: LLMConfig
    """The OpenAI-compatible endpoint's model and decoding settings."""
    simplify: SimplifyConfig
    """The simplify stage."""
    glue_simplify: GlueSimplifyConfig
    """The glue_simplify stage (Leaner-GLUE construction)."""
    model: ModelConfig
    """Model sizes per architecture (transformers' own field names)."""
    pretrain: PretrainConfig
    """The pretrain stage."""
    vocab: VocabConfig
    """The vocab stage (vocabulary and complexity metrics)."""
    tokenizer: TokenizerConfig
    """The tokenizer stage (2K byte-level BPE per model family)."""
    compose: ComposeConfig
    """The compose stage (documents by genre ratio up to a token budget)."""
    pack: PackConfig
    """The pack stage (uint16 token shards)."""
    glue: GlueConfig
    """The glue stages (Leaner-GLUE fine-tuning and the summary table)."""
    instruct_data: InstructDataConfig
    """The instruct_data stage (Leaner-Instruct and Alpaca-cleaned, split alike)."""
    instruct: InstructConfig
    """The instruct stage (instruction tuning of the pretrained causal models)."""
    difficulty: DifficultyConfig
    """The difficulty stage (per-document sentence length and reference-LM loss)."""
    curriculum: CurriculumConfig
    """The curriculum stages (iterative curriculum vs full-data and random-order controls)."""
    probe: ProbeConfig
    """The probe stages (zero-shot grammar probes on minimal pairs)."""
    generate: GenerateConfig
    """The generate stage (Leaner-Eval answers of the tuned models)."""
    judge: JudgeConfig
    """The judge stage (LLM-judged scores, judge-free metrics and the Leaner-Eval tables)."""
    report: ReportConfig
    """The report stage (one offline page over every stage's metrics)."""

    @model_validator(mode="after")
    def _check_across_sections(self) -> Params:
        problems = []
        for arch, family in (("llama", "causal"), ("bert", "bert")):
            block = self.pack.block_size_for(family)
            positions = getattr(self.model, arch).max_position_embeddings
            if arch in self.pretrain.archs and positions < block:
                problems.append(
                    f"model.{arch}.max_position_embeddings ({positions}) must be at least "
                    f"the {family} pack.block_size ({block})"
                )
        longest = max(self.pack.block_size_for(family) for family in self.pack.families)
        if self.tokenizer.model_max_length < longest:
            problems.append(
                f"tokenizer.model_max_length ({self.tokenizer.model_max_length}) must be at least "
                f"pack.block_size ({longest})"
            )
        missing = [family for family in self.pack.families if family not in self.tokenizer.families]
        if missing:
            problems.append(f"pack.families {missing} are not in tokenizer.families {self.tokenizer.families}")
        if self.compose.count_with not in self.tokenizer.families:
            problems.append(
                f"compose.count_with ({self.compose.count_with}) is not in tokenizer.families {self.tokenizer.families}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def validate_params(raw: Any, path: str = "params.yaml") -> Params:
    """Validate an already-parsed params mapping; raise `ConfigError` naming every bad key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(format_errors(error, path, Params)) from None


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
    raw = read_yaml(path, "params file")
    return validate_params(raw, str(path))
