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


PosInt = Annotated[StrictInt, Field(ge=1)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


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
    def _check_range(self) -> "LengthRule":
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


class LLMConfig(Section):
    """The chat endpoint every LLM stage calls (`simplify` with backend `llm`, `glue_simplify`).

    The endpoint and key are never params: the official `openai` client reads `OPENAI_BASE_URL` and
    `OPENAI_API_KEY` from the environment (OpenAI itself, vLLM, llama.cpp server, Ollama...).
    """

    model: StrictStr
    """Model name as the endpoint knows it; pin a dated snapshot, since aliases drift."""
    system_prompt: StrictStr
    """The system message sent before each prompt."""
    temperature: Annotated[float, Field(ge=0, le=2)]
    """Sampling temperature (0 for the most repeatable output)."""
    top_p: Annotated[float, Field(gt=0, le=1)]
    """Nucleus sampling mass."""
    max_tokens: Annotated[StrictInt, Field(ge=1)]
    """Cap on tokens per answer; an answer that hits it (finish_reason `length`) is a failure, never kept."""
    seed: NonNegInt | None
    """Sampling seed sent to the endpoint (null: none); best effort on most servers."""
    concurrency: Annotated[StrictInt, Field(ge=1)]
    """Requests in flight at once."""
    timeout_s: Annotated[float, Field(gt=0)]
    """Per-request timeout in seconds; a timed-out request is retried."""
    max_attempts: Annotated[StrictInt, Field(ge=1)]
    """Attempts per request (first try included) on 429, 5xx, timeouts and connection errors."""
    backoff_base_s: Annotated[float, Field(ge=0)]
    """Exponential backoff: attempt n waits a random time up to base * 2**(n-1) seconds (full jitter)."""
    backoff_max_s: Annotated[float, Field(ge=0)]
    """Longest wait between attempts (a longer `Retry-After` from the server is still honoured)."""
    price_input_per_1m: Annotated[float, Field(ge=0)]
    """Price per million input tokens, for the cost estimate in the metrics (any currency)."""
    price_output_per_1m: Annotated[float, Field(ge=0)]
    """Price per million output tokens, for the cost estimate in the metrics."""


class ChunkingGenre(Section):
    """How one text genre is cut into LLM requests (spec §2.3)."""

    docs_per_group: Annotated[StrictInt, Field(ge=1)]
    """Documents walked together; a chunk may hold the end of one and the start of the next."""
    sentences_per_step: Annotated[StrictInt, Field(ge=1)]
    """Sentences added to a chunk at a time."""
    token_threshold: Annotated[StrictInt, Field(ge=1)]
    """A chunk is sent once its token count exceeds this (so chunks are slightly over it)."""


class ChunkingConfig(Section):
    """Sentence-based chunking of the text genres."""

    token_counter: StrictStr
    """How chunk sizes are counted: `gpt2_pieces` (GPT-2's pre-tokenisation pieces, offline; close to GPT-2
    token counts on English prose, a bit under on rare words), `words`, or a path to a local tokenizer folder
    (`tokenizer.json`, e.g. a downloaded GPT-2) for exact counts."""
    web: ChunkingGenre
    """Chunking of web documents."""
    book: ChunkingGenre
    """Chunking of book documents."""
    wiki: ChunkingGenre
    """Chunking of wiki documents."""
    textbook: ChunkingGenre
    """Chunking of textbook documents."""
    conversation: ChunkingGenre
    """Chunking of conversation documents."""

    @field_validator("token_counter")
    @classmethod
    def _check_counter(cls, value: str) -> str:
        if value not in ("gpt2_pieces", "words") and not Path(value, "tokenizer.json").is_file():
            raise ValueError("use gpt2_pieces, words, or a folder holding tokenizer.json")
        return value


class RulesConfig(Section):
    """The offline, deterministic `rules` backend."""

    ner: Literal["auto", "spacy", "heuristic"]
    """Entity finder: `spacy` (needs an installed English model such as en_core_web_sm), `heuristic`
    (capitalised words outside the common-word list, typed by nearby cue words), `auto` (spacy if a model is
    installed, else heuristic)."""
    spacy_model: StrictStr
    """The spaCy model package used when NER is spacy."""
    vocab_size: Annotated[StrictInt, Field(ge=100)]
    """Size of the common-word list (the most frequent English words in `wordfreq`)."""
    min_known_fraction: Annotated[float, Field(ge=0, le=1)]
    """A sentence is kept when at least this share of its words is in the list."""


class SimplifyConfig(Section):
    """Stage `simplify`: rewrite the cleaned corpus into the leaner language (spec §2)."""

    backend: Literal["release", "llm", "rules"]
    """`release` replays the published leaner documents by id; `llm` calls the endpoint in `llm`;
    `rules` is the offline deterministic baseline."""
    genres: Annotated[list[Genre], Field(min_length=1)]
    """Genres to simplify."""
    splits: Annotated[list[Split], Field(min_length=1)]
    """Splits to simplify."""
    instructions: StrictBool
    """Also simplify the instruction set."""
    max_documents: NonNegInt
    """At most this many documents per (split, genre) file; 0 keeps all (for trying an endpoint cheaply)."""
    min_chars: NonNegInt
    """A simplified text genre document shorter than this many characters is rejected (the release used 100)."""
    prompts_dir: StrictStr
    """Folder of prompt templates, one `<genre>.txt` per genre (DVC deps)."""
    math: Literal["keep", "grade"]
    """Math problems: `keep` them unchanged (as the release did) or `grade` them with the difficulty prompt."""
    math_max_level: Literal["A", "B", "C", "D", "E", "F"]
    """With `math: grade`, keep problems graded up to this level (A preschool ... F post-university)."""
    math_grade_batch: Annotated[StrictInt, Field(ge=1)]
    """Problems graded per request."""
    chunking: ChunkingConfig
    """Sentence-based chunking of the text genres for the `llm` backend."""
    rules: RulesConfig
    """Settings of the `rules` backend."""

    _unique_lists = field_validator("genres", "splits")(_unique)


class GlueSimplifyConfig(Section):
    """Stage `glue_simplify`: build Leaner-GLUE (simplify items, keep those the LLM still labels correctly)."""

    enabled: StrictBool
    """Run it at all (off for the bundled sample: it needs an endpoint); when off, writes empty outputs."""
    source: StrictStr
    """`hf:nyu-mll/glue` (via `datasets`) or a local folder of `<task>_<split>.jsonl` files in the HF schema."""
    tasks: list[GlueTask]
    """Tasks to build."""
    max_items: NonNegInt
    """At most this many items per source split (0: all)."""
    split_seed: NonNegInt
    """Seed of the stratified halving of the source validation split into validation and test."""
    stsb_tolerance: Annotated[float, Field(ge=0)]
    """STS-B: the validity check passes when |predicted - gold| <= this."""
    prompts_dir: StrictStr
    """Folder with `simplify.txt`, `answer.txt` and `tasks.yaml` (task descriptions, formats, labels)."""

    _unique_tasks = field_validator("tasks")(_unique)
Arch = Literal["llama", "mamba", "bert", "xlnet"]
Corpus = Literal["leaner", "ori"]


class LlamaModelConfig(Section):
    """`LlamaConfig` fields (transformers names), passed straight to the config class."""

    hidden_size: PosInt
    """Width of the residual stream."""
    intermediate_size: PosInt
    """Width of the SwiGLU feed-forward layer."""
    num_hidden_layers: PosInt
    """Number of decoder layers."""
    num_attention_heads: PosInt
    """Attention heads per layer (head dim = hidden_size / heads)."""
    num_key_value_heads: PosInt
    """Key/value heads (= num_attention_heads: plain multi-head attention)."""
    max_position_embeddings: PosInt
    """Longest sequence the RoPE tables are built for; must be >= the pack's block size."""
    rope_theta: Annotated[float, Field(gt=0)]
    """RoPE base frequency (the paper: 500000)."""
    rms_norm_eps: Annotated[float, Field(gt=0)]
    """RMSNorm epsilon."""
    hidden_act: StrictStr
    """Feed-forward activation."""
    tie_word_embeddings: StrictBool
    """Share the input embedding and the LM head (the paper: false, untied)."""


class MambaModelConfig(Section):
    """`BambaConfig` fields: Mamba-2 mixer + gated MLP per block and no attention layer, the paper's
    mamba_ssm `MambaLMHeadModel(ssm_cfg.layer=Mamba2, d_intermediate>0)` in a transformers class."""

    hidden_size: PosInt
    """d_model."""
    intermediate_size: PosInt
    """Gated MLP width (mamba_ssm `d_intermediate`)."""
    num_hidden_layers: PosInt
    """Number of (Mamba-2 mixer + gated MLP) blocks."""
    mamba_d_state: PosInt
    """SSM state size (mamba_ssm Mamba2 default 128)."""
    mamba_d_head: PosInt
    """SSM head dim (default 64); mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size."""
    mamba_n_heads: PosInt
    """SSM heads."""
    mamba_n_groups: PosInt
    """B/C groups (default 1)."""
    mamba_expand: PosInt
    """Inner width factor (default 2)."""
    mamba_d_conv: PosInt
    """Causal conv kernel width (default 4)."""
    mamba_chunk_size: PosInt
    """Chunk length of the chunked SSD scan."""
    mamba_conv_bias: StrictBool
    """Bias in the causal conv (mamba_ssm: true)."""
    mamba_proj_bias: StrictBool
    """Bias in the in/out projections (mamba_ssm: false)."""
    rms_norm_eps: Annotated[float, Field(gt=0)]
    """RMSNorm epsilon."""
    tie_word_embeddings: StrictBool
    """Share the input embedding and the LM head (the paper: false)."""


class BertModelConfig(Section):
    """`BertConfig` fields (transformers names)."""

    hidden_size: PosInt
    """Width of the residual stream."""
    num_hidden_layers: PosInt
    """Encoder layers."""
    num_attention_heads: PosInt
    """Attention heads per layer."""
    intermediate_size: PosInt
    """Feed-forward width."""
    hidden_act: StrictStr
    """Feed-forward activation."""
    hidden_dropout_prob: Probability
    """Dropout on hidden states."""
    attention_probs_dropout_prob: Probability
    """Dropout on attention weights."""
    max_position_embeddings: PosInt
    """Absolute positions; must be >= the pack's block size."""
    type_vocab_size: PosInt
    """Token type (segment) vocabulary."""
    layer_norm_eps: Annotated[float, Field(gt=0)]
    """LayerNorm epsilon."""


class XLNetModelConfig(Section):
    """`XLNetConfig` fields (transformers names)."""

    d_model: PosInt
    """Width of the residual stream."""
    n_layer: PosInt
    """Layers."""
    n_head: PosInt
    """Attention heads; d_model must be n_head * d_head."""
    d_head: PosInt
    """Head dim."""
    d_inner: PosInt
    """Feed-forward width."""
    ff_activation: StrictStr
    """Feed-forward activation."""
    attn_type: Literal["bi", "uni"]
    """Attention type (the paper: bi)."""
    dropout: Probability
    """Dropout."""
    layer_norm_eps: Annotated[float, Field(gt=0)]
    """LayerNorm epsilon."""


class ModelConfig(Section):
    """Model dimensions per family, in transformers' own config field names. The vocabulary size and the
    special token ids come from the pack's index.json, not from here."""

    llama: LlamaModelConfig
    """LlamaForCausalLM dims (the paper: 336 x 8 layers, 8 heads, FFN 1344; the 1M proxy: 128 x 4)."""
    mamba: MambaModelConfig
    """BambaForCausalLM dims: Mamba-2 + gated MLP blocks (the paper: d_model 768, 2 layers, MLP 1536)."""
    bert: BertModelConfig
    """BertForMaskedLM dims (the paper: 384 x 8 layers)."""
    xlnet: XLNetModelConfig
    """XLNetLMHeadModel dims (the paper: d_model 376, 8 layers, d_head 47)."""


class PerArch(Section):
    """One value per architecture."""

    llama: Annotated[float, Field(gt=0)]
    """Value for Llama."""
    mamba: Annotated[float, Field(gt=0)]
    """Value for Mamba."""
    bert: Annotated[float, Field(gt=0)]
    """Value for BERT."""
    xlnet: Annotated[float, Field(gt=0)]
    """Value for XLNet."""


class PretrainConfig(Section):
    """How `pretrain` trains each (arch, corpus) instance of its matrix."""

    archs: Annotated[list[Arch], Field(min_length=1)]
    """Architectures the DVC matrix trains (llama, mamba: causal LM; bert: MLM; xlnet: PLM)."""
    corpora: Annotated[list[Corpus], Field(min_length=1)]
    """Corpora the DVC matrix trains on (data/packed/<corpus>-<family>/)."""
    seeds: list[int] = [65]
    """Pre-training seeds of the model grid (models/<arch>-<corpus>-s<seed>/, see tinyhelen/grid.py)."""
    max_steps: PosInt
    """Optimizer steps."""
    batch_size: PosInt
    """Sequences per optimizer step, over all processes (the paper: 512)."""
    micro_batch_size: PosInt
    """Sequences per forward pass on one process; batch_size / (micro_batch_size * processes) steps of
    gradient accumulation make one optimizer step."""
    lr: PerArch
    """Peak learning rate per architecture (the paper's chosen runs: llama/mamba 5e-3, bert 1e-3, xlnet 5e-4)."""
    lr_schedule: Literal["linear", "cosine", "constant"]
    """Decay after warmup: linear to 0 (the paper, HF default), cosine to 0, or constant."""
    warmup_steps: NonNegInt
    """Linear warmup steps from 0 to the peak learning rate."""
    weight_decay: Annotated[float, Field(ge=0)]
    """AdamW weight decay (the paper: 0)."""
    adam_beta1: Probability
    """AdamW beta1."""
    adam_beta2: Probability
    """AdamW beta2."""
    adam_epsilon: Annotated[float, Field(gt=0)]
    """AdamW epsilon."""
    grad_clip: Annotated[float, Field(ge=0)]
    """Clip the global gradient norm to this; 0 turns clipping off."""
    mlm_probability: Probability
    """BERT: share of tokens selected for MLM (replaced 80% [MASK], 10% random, 10% kept)."""
    plm_probability: Probability
    """XLNet: ratio of masked span length to its context length (the paper: 1/6)."""
    max_span_length: PosInt
    """XLNet: longest masked span."""
    eval_every: PosInt
    """Evaluate on the validation split every this many steps (and at the end)."""
    eval_batches: NonNegInt
    """Validation batches per evaluation; 0 = the whole validation split."""
    eval_batch_size: PosInt
    """Sequences per validation batch (per process)."""
    log_every: PosInt
    """One log line and one curve row every this many steps."""
    save_every: NonNegInt
    """Write a resumable checkpoint to the run folder every this many steps; 0 = never."""
    keep_checkpoints: PosInt
    """How many of the newest checkpoints to keep."""
    resume: StrictBool
    """Resume from the newest checkpoint of the same run (same params and data) if there is one."""
    run_dir: StrictStr
    """Git-ignored folder for checkpoints (never DVC outputs): <run_dir>/<arch>-<corpus>/."""
    device: Literal["auto", "cpu", "cuda"]
    """auto = CUDA when available, else CPU. Under `accelerate launch` each process takes its own device."""
    precision: Literal["auto", "fp32", "bf16"]
    """auto = bf16 autocast on CUDA, fp32 on CPU; bf16 forces autocast (also on CPU)."""
    compile: Literal["auto", "on", "off"]
    """torch.compile the model: auto = on CUDA only (on CPU compiling costs minutes)."""
    cpu_threads: NonNegInt
    """Intra-op threads per process on CPU; 0 = torch's default (one per core). Tiny models run about as fast
    on 1 thread, and multi-threaded kernels slow down many times over when other jobs share the cores."""
    deterministic: StrictBool
    """Force deterministic torch kernels (slower on CUDA; CPU runs are deterministic anyway)."""

    _unique_lists = field_validator("archs", "corpora")(_unique)


Family = Literal["causal", "bert", "xlnet"]
Corpus = Literal[VARIANTS]


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
    eval_fraction: Probability
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


# Sections of the phase packages subclass `Section`, so they are imported once it exists.
from tinyhelen.eval.config import ProbeConfig


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
    probe: ProbeConfig
    """The probe stages (zero-shot minimal-pair grammar probes and their summary)."""


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
