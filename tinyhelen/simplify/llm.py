"""Calling an OpenAI-compatible chat endpoint: a durable response cache, bounded concurrency and retries.

    client = CachedLLM(params.llm)                 # OPENAI_BASE_URL / OPENAI_API_KEY from the environment
    answers = client.complete_many(["prompt 1", "prompt 2"])   # -> list[Answer], same order

Cache. Every completed response (HTTP 200, whatever its content) is stored under
`sha256(model, system prompt, user prompt, temperature, top_p, max_tokens, seed)` in a SQLite file, one
committed transaction per response, so a killed run loses at most the requests in flight and a re-run asks
for nothing it already has. The file lives outside DVC's outputs, by default `.cache/llm/responses.sqlite`
under the working directory (the repo root under DVC; git- and DVC-ignored), or wherever
`TINYHELEN_LLM_CACHE` points. It is deliberately not a DVC out: DVC deletes a stage's outs before re-running
it, and experiments check out other outs, which would throw away paid responses that are still valid for
any prompt that did not change. Content addressing keeps it correct across experiments: a changed prompt or
decoding param is a different key.

Faults. Requests run in a thread pool of `concurrency` workers. 429, 5xx, timeouts and connection errors
are retried up to `max_attempts` times with full-jitter exponential backoff, waiting at least the server's
`Retry-After`; what still fails comes back as an `Answer` with `error` set (a reason such as `http_429`),
never as an exception, so the caller can reject the document. Authentication, permission and unknown-model
errors stop the run: every request would fail the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.errors import ConfigError
from tinyhelen.simplify.config import LLMConfig

log = logging.getLogger(__name__)

CACHE_ENV = "TINYHELEN_LLM_CACHE"
DEFAULT_CACHE = Path(".cache") / "llm" / "responses.sqlite"


def cache_path() -> Path:
    """Where the response cache lives: `$TINYHELEN_LLM_CACHE`, else `.cache/llm/responses.sqlite`."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)


@dataclass(frozen=True)
class Answer:
    """One prompt's outcome: the text and finish reason, or the error that ended its attempts."""

    text: str = ""
    finish_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached: bool = False
    error: str | None = None
    system_fingerprint: str | None = None
    """The endpoint's `system_fingerprint` (its backend configuration), when it sends one."""


@dataclass
class CallStats:
    """What a batch of prompts cost."""

    calls: int = 0
    """HTTP requests sent (retries included)."""
    cache_hits: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    failures: Counter = field(default_factory=Counter)

    def add(self, other: CallStats) -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.failures.update(other.failures)


def request_key(settings: LLMConfig, prompt: str, salt: str | None = None) -> str:
    """The cache key: sha256 of the model, the full prompt and the decoding params.

    `salt` (e.g. a re-ask's attempt number) makes an otherwise identical request a new one; None leaves
    the key as it always was.
    """
    payload = {
        "model": settings.model, "system": settings.system_prompt, "prompt": prompt,
        "temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_tokens,
        "seed": settings.seed,
    }
    if salt is not None:
        payload["salt"] = salt
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class ResponseCache:
    """A SQLite key -> response table; each `put` is its own committed transaction (WAL mode)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT,"
            " finish_reason TEXT, input_tokens INTEGER, output_tokens INTEGER, created REAL)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
        if "system_fingerprint" not in columns:  # caches written before the column existed
            self._db.execute("ALTER TABLE responses ADD COLUMN system_fingerprint TEXT")

    def get(self, key: str) -> Answer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason, input_tokens, output_tokens, system_fingerprint FROM responses"
                " WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return Answer(text=row[0], finish_reason=row[1], input_tokens=row[2], output_tokens=row[3], cached=True,
                      system_fingerprint=row[4])

    def put(self, key: str, model: str, answer: Answer) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, text, finish_reason, input_tokens, output_tokens,"
                " created, system_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, model, answer.text, answer.finish_reason, answer.input_tokens, answer.output_tokens,
                 time.time(), answer.system_fingerprint),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def backoff_delay(attempt: int, settings: LLMConfig, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt `attempt + 1`: full jitter over base * 2**(attempt-1), capped,
    but never less than the server's Retry-After."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
    delay = rng.uniform(0, ceiling)
    return max(delay, retry_after or 0.0)


class CachedLLM:
    """Chat completions through the official `openai` client, with the response cache in front."""

    def __init__(self, settings: LLMConfig, cache: ResponseCache | None = None, client: Any = None) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else ResponseCache(cache_path())
        self._client = client
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            if not os.environ.get("OPENAI_API_KEY"):
                raise ConfigError("backend llm: set OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI "
                                  "endpoint) in the environment; keys never go into params")
            # Retries are ours (counted, logged, Retry-After aware), so the client's own are off.
            self._client = openai.OpenAI(timeout=self.settings.timeout_s, max_retries=0)
        return self._client

    def _request(self, prompt: str) -> tuple[Answer, int]:
        """Send one prompt with retries; return the answer and the number of HTTP requests made."""
        import openai

        settings = self.settings
        messages = [{"role": "system", "content": settings.system_prompt}, {"role": "user", "content": prompt}]
        extra = {"seed": settings.seed} if settings.seed is not None else {}
        reason = "unknown"
        for attempt in range(1, settings.max_attempts + 1):
            retry_after = None
            try:
                response = self.client.chat.completions.create(
                    model=settings.model, messages=messages, temperature=settings.temperature,
                    top_p=settings.top_p, max_tokens=settings.max_tokens, **extra,
                )
                choice = response.choices[0]
                usage = response.usage
                return Answer(
                    text=choice.message.content or "", finish_reason=choice.finish_reason or "",
                    input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                    output_tokens=getattr(usage, "completion_tokens", 0) or 0,
                    system_fingerprint=getattr(response, "system_fingerprint", None),
                ), attempt
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
                raise ConfigError(f"the LLM endpoint refused the request ({type(error).__name__}, HTTP "
                                  f"{error.status_code}): check OPENAI_API_KEY, OPENAI_BASE_URL and "
                                  f"llm.model ({settings.model!r})") from None
            except openai.RateLimitError as error:
                reason, retry_after = "http_429", _retry_after(error)
            except openai.InternalServerError as error:
                reason, retry_after = f"http_{error.status_code}", _retry_after(error)
            except openai.APITimeoutError:
                reason = "timeout"
            except openai.APIConnectionError:
                reason = "connection"
            except openai.APIStatusError as error:  # other 4xx (e.g. context too long): not worth retrying
                return Answer(error=f"http_{error.status_code}"), attempt
            if attempt < settings.max_attempts:
                with self._rng_lock:
                    delay = backoff_delay(attempt, settings, retry_after, self._rng)
                log.debug("attempt %d failed (%s); retrying in %.2f s", attempt, reason, delay)
                time.sleep(delay)
        return Answer(error=reason), settings.max_attempts

    def complete_many(self, prompts: Sequence[str], desc: str = "llm",
                      salts: Sequence[str | None] | None = None) -> tuple[list[Answer], CallStats]:
        """Answer every prompt (cache first, then the endpoint, `concurrency` at a time), in order.

        Each fresh response is committed to the cache as soon as it arrives. `salts` (one per prompt, see
        `request_key`) make repeated prompts distinct requests, e.g. a re-ask after an unreadable answer.
        """
        stats = CallStats()
        answers: list[Answer | None] = [None] * len(prompts)
        salts = list(salts) if salts is not None else [None] * len(prompts)
        keys = [request_key(self.settings, prompt, salt) for prompt, salt in zip(prompts, salts, strict=True)]
        todo: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            hit = self.cache.get(key) if key not in todo else None
            if hit is not None:
                answers[index] = hit
                stats.cache_hits += 1
            else:
                todo.setdefault(key, []).append(index)
        if todo:
            self.client  # create the shared client (and import openai) once, before the workers start
            with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool, \
                    tqdm(total=len(todo), desc=desc, unit="req", leave=False) as bar:
                futures = {pool.submit(self._fetch, key, prompts[indices[0]]): key for key, indices in todo.items()}
                for future in as_completed(futures):
                    answer, sent = future.result()
                    stats.calls += sent
                    if answer.error is None:
                        stats.input_tokens += answer.input_tokens
                        stats.output_tokens += answer.output_tokens
                    else:
                        stats.failures[answer.error] += 1
                    for index in todo[futures[future]]:
                        answers[index] = answer
                    bar.update()
        return answers, stats

    def _fetch(self, key: str, prompt: str) -> tuple[Answer, int]:
        """Request one prompt and commit its response to the cache at once (in the worker thread)."""
        answer, sent = self._request(prompt)
        if answer.error is None:
            self.cache.put(key, self.settings.model, answer)
        return answer, sent
