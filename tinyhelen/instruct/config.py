"""Params sections of instruction tuning: `instruct_data:` (Leaner-Instruct) and `instruct:` (the 2x2 runs)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from tinyhelen.core.config import Section, data_source, unique_list

PosInt = Annotated[StrictInt, Field(ge=1)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=0.5)]
Variant = Literal["leaner", "ori"]


class InstructDataConfig(Section):
    """Stage `instruct_data`: the instruction set in two variants, `ori` (Alpaca-cleaned) and `leaner`
    (Leaner-Instruct), split into the same train / validation / test records."""

    source: StrictStr
    """`sample` (the bundled data/sample/ori/instruction*.jsonl), a local JSON/JSONL file in the Alpaca schema
    (`instruction`, `input`, `output`), or `hf:<owner>/<name>[@revision]` read through `datasets`
    (the paper: `hf:yahma/alpaca-cleaned`)."""
    hub_split: StrictStr
    """The split of a hub dataset to read (Alpaca-cleaned has only `train`)."""
    backend: Literal["release", "llm", "rules"]
    """How the leaner variant is made, through the `simplify` backends: `release` replays the published
    Leaner-Instruct records by hash (from the ingested `leaner/instruction.jsonl`), `llm` asks the endpoint of
    `llm:` with `simplify.prompts_dir`/instruction.txt, `rules` is the offline simplifier (anonymisation)."""
    max_records: NonNegInt
    """Read at most this many source records (0: all), e.g. to try an endpoint cheaply."""
    validation_fraction: Fraction
    """Share of the kept records in validation (at least one record when above 0); the paper: 0.01."""
    test_fraction: Fraction
    """Share of the kept records in test (at least one record when above 0); the paper: 0.01."""
    token_counter: StrictStr
    """How the metrics count tokens: `gpt2_pieces` (offline GPT-2 pre-tokenisation), `words`, or a folder
    holding a `tokenizer.json` (e.g. data/tokenizers/causal)."""

    _check_source = field_validator("source")(data_source)

    @model_validator(mode="after")
    def _check_fractions(self) -> InstructDataConfig:
        if self.validation_fraction + self.test_fraction >= 0.5:
            raise ValueError("validation_fraction + test_fraction must stay below 0.5 (train is the rest)")
        return self


class InstructConfig(Section):
    """Stage `instruct`: tune pretrained causal models of the grid on each instruction variant.

    The loop is the pretrain loop (`tinyhelen.pretrain.loop`); its AdamW betas/epsilon and the runtime keys
    (`device`, `precision`, `compile`, `cpu_threads`, `deterministic`) are taken from `pretrain:`.
    """

    archs: Annotated[list[Literal["llama", "mamba"]], Field(min_length=1)]
    """Causal architectures to tune (the paper: llama)."""
    corpora: Annotated[list[Variant], Field(min_length=1)]
    """Pretraining corpora whose models are tuned (the paper: leaner and ori)."""
    variants: Annotated[list[Variant], Field(min_length=1)]
    """Instruction variants each model is tuned on (the paper: leaner = Leaner-Instruct, ori = Alpaca-cleaned)."""
    pretrain_seed: NonNegInt
    """Which pretraining seed of the grid to start from: models/<arch>-<corpus>-s<seed>/."""
    pretrain_step: Literal["final"] | PosInt
    """Start from the final pretrained model (`final`) or from its exported checkpoint `step-<N>/`."""
    template: StrictStr
    """The prompt template file (YAML with `prompt`, `input`, `response`; see tinyhelen.instruct.template)."""
    loss_on: Literal["all", "response"]
    """Tokens with loss weight: `all` (the paper: prompt and response) or `response` (prompt labels -100)."""
    packing: StrictBool
    """Pack several examples per row (attention and positions restart at every example, so nothing attends
    across them) or put one example per row (padded)."""
    block_size: Annotated[StrictInt, Field(ge=8)]
    """Tokens per row (the paper: 1024); longer examples are truncated and counted."""
    max_steps: PosInt
    """Optimizer steps (the paper: 1000)."""
    batch_size: PosInt
    """Rows per optimizer step, over all processes (the paper: 512)."""
    micro_batch_size: PosInt
    """Rows per forward pass on one process (the rest is gradient accumulation)."""
    lr: Annotated[float, Field(gt=0)]
    """Peak learning rate (the paper: 5e-3, from a sweep of 5e-6 5e-5 5e-4 1e-3 5e-3 5e-2)."""
    lr_schedule: Literal["linear", "cosine", "constant"]
    """Decay after warmup (the paper: linear to 0)."""
    warmup_steps: NonNegInt
    """Linear warmup steps (the paper: 10)."""
    weight_decay: Annotated[float, Field(ge=0)]
    """AdamW weight decay (the paper: 0)."""
    grad_clip: Annotated[float, Field(ge=0)]
    """Global gradient-norm clip; 0 turns it off."""
    eval_every: PosInt
    """Validation loss every this many steps (and at the end); the paper: 20."""
    eval_batches: NonNegInt
    """Validation batches per evaluation; 0 = the whole validation split (needed for comparable checkpoints)."""
    eval_batch_size: PosInt
    """Rows per validation batch (per process)."""
    log_every: PosInt
    """One log line and one train-curve row every this many steps."""
    export_every: NonNegInt
    """Export a Hugging Face model folder `step-<N>/` every this many steps (the paper saved every 100 and
    compared checkpoints 100..1000); 0 exports only the final model. A multiple of eval_every."""
    save_every: NonNegInt
    """Resumable checkpoint (optimizer, RNG, data position) every this many steps in run_dir; 0 = never."""
    keep_checkpoints: PosInt
    """How many of the newest resumable checkpoints to keep."""
    resume: StrictBool
    """Resume from the newest checkpoint of the same run (same params, data and start weights)."""
    run_dir: StrictStr
    """Git-ignored folder for checkpoints and exports in progress: <run_dir>/<name>/."""

    _unique_lists = field_validator("archs", "corpora", "variants")(unique_list)

    @model_validator(mode="after")
    def _check(self) -> InstructConfig:
        if self.export_every and self.export_every % self.eval_every:
            raise ValueError(
                f"export_every ({self.export_every}) must be a multiple of eval_every "
                f"({self.eval_every}), so every exported checkpoint has its validation loss"
            )
        if self.packing and "mamba" in self.archs:
            raise ValueError(
                "mamba carries its state across packed examples (no attention mask to cut it): "
                "tune mamba with packing: false"
            )
        return self
