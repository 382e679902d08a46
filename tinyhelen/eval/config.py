"""The `probe:` section of params.yaml (stage `probe`: zero-shot minimal-pair grammar probes)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr, field_validator

from tinyhelen.config import Section, _unique

NonNegInt = Annotated[StrictInt, Field(ge=0)]


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

    _unique_lists = field_validator("paradigms", "ngrams", "steps")(_unique)
