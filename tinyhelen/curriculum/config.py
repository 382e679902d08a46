"""The `difficulty:` and `curriculum:` params sections (registered as fields of `tinyhelen.<phase>.config.Params`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, field_validator, model_validator

from tinyhelen.core.config import Corpus, NonNegInt, PosInt, Section, unique_list
from tinyhelen.pretrain.config import LlamaModelConfig

#: Every curriculum arm: two full-data baselines, then the iterative schedule with four orderings.
STRATEGIES = ("full-repeated", "full-random", "iter-random", "iter-sentlen", "iter-lmloss", "iter-selfloss")
Strategy = Literal[STRATEGIES]


class DifficultyConfig(Section):
    """How `difficulty` scores each training document (mean words per sentence, reference-LM loss)."""

    corpus: Corpus
    """Whose training documents to score: data/composed/<corpus>/train.jsonl."""
    reference_model: StrictStr
    """Folder of the reference causal LM (HF model + tokenizer), a model of the grid: the paper's `lm_loss`
    came from a separately trained Llama; the default is the leaner Llama (models/llama-leaner-s65)."""
    block_size: PosInt
    """Documents longer than this many tokens are cut into blocks of this size (the paper: 1024); each block
    predicts all but its first token, and a document's loss is its summed loss over its predicted tokens."""
    batch_size: PosInt
    """Blocks per forward pass."""
    histogram_bins: PosInt
    """Bins of the per-document loss histogram (the original: 500 over [0, 10])."""
    histogram_max: Annotated[float, Field(gt=0)]
    """Upper end of the histogram range (the lower end is 0); larger losses go to the last bin."""
    device: Literal["auto", "cpu", "cuda"]
    """auto = CUDA when available, else CPU."""
    cpu_threads: NonNegInt
    """Torch threads on CPU; 0 = torch's default."""


class CurriculumConfig(Section):
    """The curriculum study: strategies x seeds on the small Llama proxy, all in the one training loop.

    Optimizer settings not named here (AdamW betas/epsilon, weight decay, grad clip, device, precision,
    compile, cpu_threads, deterministic) come from the `pretrain` section."""

    corpus: Corpus
    """Train on data/composed/<corpus>/train.jsonl (repacked per subset); validate on its validation.jsonl,
    packed once: a fixed held-out set that is never in the pool."""
    strategies: Annotated[list[Strategy], Field(min_length=1)]
    """Arms of the DVC matrix: full-repeated (plain epochs over one packing), full-random (documents
    reshuffled and repacked every epoch, the first included), iter-random / iter-sentlen / iter-lmloss
    (nested growing prefixes of a fixed order: random, mean words per sentence, reference-LM loss; easy
    first), iter-selfloss (the current model re-scores every document at each growth step)."""
    seeds: Annotated[list[NonNegInt], Field(min_length=1)]
    """Seeds of the DVC matrix: model init, document and batch order (>= 3 for intervals)."""
    model: LlamaModelConfig
    """The proxy Llama (the paper: 128 x 4 layers, FFN 512, 4 heads, about 1M parameters)."""
    lr: Annotated[float, Field(gt=0)]
    """Peak learning rate (the paper: 1e-2)."""
    lr_schedule: Literal["linear", "cosine", "constant"]
    """Decay after warmup; it runs over max_steps whatever the data schedule does."""
    warmup_steps: NonNegInt
    """Linear warmup steps (the paper: 100)."""
    max_steps: PosInt
    """Optimizer steps of every arm (the paper: 2500), whether or not the schedule reaches 100%."""
    batch_size: PosInt
    """Sequences per optimizer step (the paper: 512)."""
    micro_batch_size: PosInt
    """Sequences per forward pass; the rest is gradient accumulation."""
    block_size: Annotated[StrictInt, Field(ge=8)]
    """Tokens per packed row (the paper: 1024); at most model.max_position_embeddings."""
    eval_every: PosInt
    """Validation (and the growth trigger) every this many steps (the paper: 20)."""
    eval_batches: NonNegInt
    """Validation batches per evaluation; 0 = the whole validation split (the paper)."""
    eval_batch_size: PosInt
    """Sequences per validation batch."""
    log_every: PosInt
    """One training-loss curve row every this many steps."""
    save_every: NonNegInt
    """Resumable checkpoint every this many steps (in run_dir, not a DVC output); 0 = never."""
    run_dir: StrictStr
    """Git-ignored folder for checkpoints and staged exports: <run_dir>/<strategy>-s<seed>/."""
    levels: Annotated[StrictInt, Field(ge=1)]
    """The iterative schedule's levels: level k holds floor(k * N / levels) documents (the paper: 20,
    i.e. start at 5%, add 5%), computed in integers so there is no drift."""
    patience: PosInt
    """Grow after this many evaluations in a row that fail to beat the all-time best loss (the paper: 1)."""
    threshold: Annotated[float, Field(ge=0)]
    """An evaluation improves only if it is below the best by more than this (the paper: 0)."""
    score_batch_size: PosInt
    """iter-selfloss: blocks per forward pass when the model re-scores the pool."""
    export_steps: list[PosInt]
    """Steps whose weights are exported as HF folders models/curriculum/<strategy>-s<seed>/step-<N>/
    (the paper: 500, 1000, ..., 2500); steps beyond max_steps are ignored."""
    target_fractions: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=1)]
    """Loss targets: the full-random run's validation loss at these fractions of max_steps (1.0 = its final
    loss); every run's steps and tokens to reach each are measured against the same seed's full-random."""
    confidence: Annotated[float, Field(gt=0, lt=1)]
    """Level of the Student-t interval over seeds (0.95)."""

    _unique_lists = field_validator("strategies", "seeds", "export_steps", "target_fractions")(unique_list)

    @model_validator(mode="after")
    def _check(self) -> CurriculumConfig:
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size ({self.micro_batch_size})"
            )
        if self.block_size > self.model.max_position_embeddings:
            raise ValueError(
                f"block_size ({self.block_size}) exceeds model.max_position_embeddings "
                f"({self.model.max_position_embeddings})"
            )
        return self
