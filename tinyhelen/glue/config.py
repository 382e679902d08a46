"""Params of the GLUE phase: `glue` (fine-tuning and scoring)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, field_validator

from tinyhelen.core.config import GlueTask, NonNegInt, Section, unique_list
from tinyhelen.pretrain.config import PerArchStep, Step


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
    source: Literal["release", "constructed"] = "release"
    """Which Leaner-GLUE files to score on: `release` (the ingested release files, data/raw/glue) or
    `constructed` (the ones `glue_simplify` built, data/leaner_glue)."""
    step: Step | PerArchStep = "final"
    """Which checkpoint of each pretrained model to score: `final` (models/<name>/), a step listed in
    `pretrain.export_steps` (models/<name>/step-<N>/), or one of those per architecture (the paper: Llama and
    Mamba at 1000, BERT and XLNet final)."""

    _unique_lists = field_validator("tasks", "seeds", "learning_rates")(unique_list)

    def step_for(self, arch: str) -> int | None:
        """The exported step scored for `arch`; None for the final model."""
        step = getattr(self.step, arch) if isinstance(self.step, PerArchStep) else self.step
        return None if step == "final" else step

    @field_validator("epochs")
    @classmethod
    def _check_epochs(cls, value: dict, info: Any) -> dict:
        missing = [task for task in info.data.get("tasks", []) if task not in value]
        if missing:
            raise ValueError(f"no epochs given for tasks {missing}")
        return value
