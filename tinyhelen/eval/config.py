"""Params of the evaluation phase: `probe:` (zero-shot minimal-pair grammar probes), `generate:` and `judge:`
(Leaner-Eval).

Params sections of the Leaner-Eval stages: `generate` (answers of the tuned models) and `judge` (their scores).

Both are strict, frozen `Section`s like every other params.yaml section; every key is required in params.yaml.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator, model_validator

from tinyhelen.core.config import NonNegInt, PosInt, Section, unique_list
from tinyhelen.core.release import EVAL_SETS

EvalSet = Literal[EVAL_SETS]


class GenerateConfig(Section):
    """How `generate` answers the Leaner-Eval questions (see `tinyhelen.eval.generate`)."""

    sets: Annotated[list[EvalSet], Field(min_length=1)]
    """Question sets the final tuned model answers (their union; `all` is every question)."""
    checkpoint_sets: list[EvalSet]
    """Question sets each exported checkpoint (`<model>/step-<N>/`) answers: the paper's inner comparison
    uses `inner_comparison`; empty = checkpoints are not answered."""
    template: StrictStr
    """Prompt template file with a `{question}` placeholder (shared with the instruction tuning)."""
    max_new_tokens: PosInt
    """Most tokens generated per answer; an answer that reaches it has finish reason `length`."""
    batch_size: PosInt
    """Questions per generation batch (left-padded, KV cache on)."""
    do_sample: StrictBool
    """false = greedy (the paper); true = sampling with `temperature`, `top_p` and `seed`."""
    temperature: Annotated[float, Field(gt=0)]
    """Sampling temperature (only with `do_sample`)."""
    top_p: Annotated[float, Field(gt=0, le=1)]
    """Nucleus mass (only with `do_sample`)."""
    seed: NonNegInt
    """Sampling seed; each batch draws from its own generator seeded with (seed, batch index)."""
    max_questions: NonNegInt
    """Answer at most this many questions per set (0 = all); for quick runs on the full release."""
    device: Literal["auto", "cpu", "cuda"]
    """auto = CUDA when available."""
    cpu_threads: NonNegInt
    """torch intra-op threads on CPU (0 = torch's default, one per core)."""

    _unique_lists = field_validator("sets", "checkpoint_sets")(unique_list)


class JudgeConfig(Section):
    """How `judge` scores the answers and builds the Leaner-Eval tables (see `tinyhelen.eval.judge`)."""

    backend: Literal["none", "llm"]
    """`llm`: the OpenAI-compatible endpoint of OPENAI_BASE_URL / OPENAI_API_KEY (transport settings from
    the `llm` section); `none`: no judge, only the judge-free metrics (offline)."""
    model: StrictStr | None
    """Judge model as the endpoint names it; null = `llm.model`. Pin a dated snapshot."""
    temperature: Annotated[float, Field(ge=0, le=2)]
    """Judge temperature (0; the original used 0.8)."""
    seed: NonNegInt | None
    """Seed sent to the endpoint (null: none)."""
    max_tokens: PosInt
    """Cap on the judge's answer tokens."""
    prompts_dir: StrictStr
    """Folder with `listwise.txt` (the judge prompt) and `reask.txt` (appended when re-asking)."""
    group_size: Annotated[StrictInt, Field(ge=1, le=26)]
    """Answers to one question per judge call (the paper: 10), labelled A, B, ..."""
    shuffle_seed: NonNegInt
    """Seed of each group's answer order (derived per question and group, so it never depends on resume state)."""
    max_parse_retries: NonNegInt
    """Re-asks (new requests) after an unreadable judgement; then the group's scores are counted nulls."""
    reversed_pass: StrictBool
    """Judge every group a second time in reversed order and report the mean absolute score change."""
    bootstrap_samples: PosInt
    """Bootstrap resamples of the questions for the 95% intervals."""
    bootstrap_seed: NonNegInt
    """Seed of the bootstrap resampling."""
    reference_model: StrictStr
    """Grid model (`models/<name>`) whose perplexity of the answers is a judge-free metric."""
    reference_batch_size: PosInt
    """Answers per batch when computing the reference perplexity."""
    word_list: StrictStr
    """The vocab stage's word list (one word a line); the share of answer words in it is reported."""

    @model_validator(mode="after")
    def _check(self) -> JudgeConfig:
        if self.backend == "llm" and self.model is not None and not self.model.strip():
            raise ValueError("judge.model must not be empty (null = llm.model)")
        return self


class ProbeConfig(Section):
    """Which minimal pairs to score, how, and how to report them."""

    source: StrictStr
    """`sample` (the bundled pairs in data/sample/probe), a local folder (Zorro `.txt` paradigm files or BLiMP
    `.jsonl` files, e.g. `../shared/zorro`), or `hf:nyu-mll/blimp[@revision]` (through `datasets`)."""
    format: Literal["auto", "zorro", "blimp"]
    """Folder format; `auto` = `.txt` files are Zorro, `.jsonl` files BLiMP. The hub is always BLiMP."""
    paradigms: list[StrictStr]
    """Only these paradigms (file stems / hub config names); empty = all."""
    max_pairs: NonNegInt
    """At most this many pairs per paradigm, the first ones (0 = all)."""
    batch_size: Annotated[StrictInt, Field(gt=0)]
    """Sequences per forward pass: sentences (causal) or masked copies (BERT / XLNet pseudo-log-likelihood)."""
    min_word_count: NonNegInt
    """Vocabulary-filtered scores keep only pairs whose words all occur at least this often in the model's
    training text (data/composed/<corpus>/train.jsonl); 0 = no filter."""
    ngrams: list[Literal["unigram", "bigram"]]
    """Reference rows of the summary: add-k word unigram / bigram models of each training corpus."""
    add_k: Annotated[float, Field(gt=0)]
    """Add-k smoothing of the n-gram reference."""
    tie_tolerance: Annotated[float, Field(ge=0)]
    """Scores closer than this (nats) are a tie, counted 0.5 and reported as the tie rate."""
    bootstrap: Annotated[StrictInt, Field(ge=100)]
    """Bootstrap resamples of the pairs for the 95% intervals."""
    steps: list[Annotated[StrictInt, Field(gt=0)]]
    """Also score these exported checkpoints, `models/<name>/step-<N>/` (empty = the final model only)."""
    device: Literal["auto", "cpu", "cuda"]
    """`auto` picks CUDA when available."""
    cpu_threads: NonNegInt
    """torch intra-op threads on CPU (0 = torch's default, all cores)."""
    hub_cache_dir: StrictStr | None
    """`datasets` cache for a hub source (null = its default)."""

    unique_list_lists = field_validator("paradigms", "ngrams", "steps")(unique_list)
