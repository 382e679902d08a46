"""Params of the simplify phase: `llm` (the endpoint), `simplify` and `glue_simplify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr, field_validator

from tinyhelen.core.config import Genre, GlueTask, NonNegInt, PosInt, Section, Split, unique_list


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
    """Attempts per request (first try included) on 429, 5xx, timeouts, connection errors and 200 answers
    whose body is not a well-formed completion (not JSON, missing fields, wrong types)."""
    backoff_base_s: Annotated[float, Field(ge=0)]
    """Exponential backoff: attempt n waits a random time up to base * 2**(n-1) seconds (full jitter)."""
    backoff_max_s: Annotated[float, Field(ge=0)]
    """Longest wait between attempts; a server's `Retry-After` is honoured up to this cap."""
    max_parse_retries: NonNegInt
    """An answer that arrives but cannot be used (wrong format, cut at max_tokens) is asked again, as a new
    request with the re-ask number in its cache key, up to this many times per prompt and run. Cached re-asks
    are free, so a re-run continues where the last one gave up and can recover the document."""
    max_connect_failures: PosInt
    """Circuit breaker: the stage fails at once when its first this-many requests all fail to connect or time
    out (a dead endpoint or a wrong OPENAI_BASE_URL), instead of rejecting every document."""
    max_failure_share: Annotated[float, Field(ge=0, le=1)]
    """Circuit breaker: the stage fails when more than this share of the last `failure_window` prompts failed
    after all their attempts, so that DVC never records a mostly-rejected output as done."""
    failure_window: PosInt
    """Circuit breaker: how many of the most recent prompts `max_failure_share` is judged over."""
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

    _unique_lists = field_validator("genres", "splits")(unique_list)


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

    _unique_tasks = field_validator("tasks")(unique_list)
