"""Calling an OpenAI-compatible chat endpoint: a durable response cache, bounded concurrency, retries and a
circuit breaker.

    client = CachedLLM(params.llm)                 # OPENAI_BASE_URL / OPENAI_API_KEY from the environment
    answers, stats = client.complete_many(["prompt 1", "prompt 2"])   # -> list[Answer], same order
    again, _ = client.complete_many(["prompt 2"], attempt=1)          # a re-ask: a new request, its own key

Cache. Every completed response (HTTP 200 with a well-formed body, whatever its content) is stored under
`sha256(model, system prompt, user prompt, temperature, top_p, max_tokens, seed[, re-ask number])` in a
SQLite file, one committed transaction per response, with its token usage and the HTTP requests it took, so a
killed run loses at most the requests in flight, a re-run asks for nothing it already has, and the metrics
can count the calls and tokens behind an output even when earlier runs paid for them. The file lives outside
DVC's outputs, by default `.cache/llm/responses.sqlite` under the working directory (the repo root under
DVC; git- and DVC-ignored), or wherever `TINYHELEN_LLM_CACHE` points. It is deliberately not a DVC out: DVC
deletes a stage's outs before re-running it, and experiments check out other outs, which would throw away
paid responses that are still valid for any prompt that did not change. Content addressing keeps it correct
across experiments: a changed prompt or decoding param is a different key. A caller that cannot use an
answer (a bad format) asks again with `attempt=1, 2, ...`: a new request under a new key, so the unusable
answer is kept for the record but no longer decides the outcome.

Faults. Requests run in a thread pool of `concurrency` workers. 429, 5xx, timeouts, connection errors
(a reset mid-body included) and 200 answers that are not what the API promises (a body that is not JSON,
missing fields, wrong types) are retried up to `max_attempts` times with full-jitter exponential backoff,
waiting at least the server's `Retry-After` but never more than `backoff_max_s`; what still fails comes
back as an `Answer` with `error` set (a reason such as `http_429` or `bad_response`), never as an
exception, so the caller can reject the document. Authentication, permission and unknown-model errors stop
the run: every request would fail the same way. So does the circuit breaker (`EndpointError`), when the
first `max_connect_failures` attempts all fail to connect, or more than `max_failure_share` of the last
`failure_window` prompts fail after all their attempts: an endpoint that is down or broken ends the stage
in seconds with one message, instead of a "successful" run that rejected everything.
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
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.errors import ConfigError, EndpointError
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
    requests: int = 1
    """HTTP requests this answer took (retries included), also when it comes from the cache."""


@dataclass
class CallStats:
    """What a batch of prompts cost."""

    calls: int = 0
    """HTTP requests sent by this run (retries included)."""
    cache_hits: int = 0
    input_tokens: int = 0
    """Tokens of the answers this run received."""
    output_tokens: int = 0
    failures: Counter = field(default_factory=Counter)
    calls_behind: int = 0
    """HTTP requests behind the answers used, whichever run sent them (cache hits count the requests they
    took when they were asked), plus this run's failed requests."""
    input_tokens_behind: int = 0
    """Tokens of the answers used, whichever run received them."""
    output_tokens_behind: int = 0

    def add(self, other: CallStats) -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.failures.update(other.failures)
        self.calls_behind += other.calls_behind
        self.input_tokens_behind += other.input_tokens_behind
        self.output_tokens_behind += other.output_tokens_behind


def request_key(settings: LLMConfig, prompt: str, attempt: int = 0) -> str:
    """The cache key: sha256 of the model, the full prompt, the decoding params and, for a re-ask of an
    unusable answer, its number (`attempt` 0, the first ask, keeps the key it always had)."""
    payload = {
        "model": settings.model,
        "system": settings.system_prompt,
        "prompt": prompt,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": settings.max_tokens,
        "seed": settings.seed,
    }
    if attempt:
        payload["reask"] = attempt
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
        if "requests" not in columns:  # caches written before the request count was kept: 1 each
            self._db.execute("ALTER TABLE responses ADD COLUMN requests INTEGER")

    def get(self, key: str) -> Answer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason, input_tokens, output_tokens, system_fingerprint, requests"
                " FROM responses WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return Answer(
            text=row[0],
            finish_reason=row[1],
            input_tokens=row[2],
            output_tokens=row[3],
            cached=True,
            system_fingerprint=row[4],
            requests=row[5] or 1,
        )

    def put(self, key: str, model: str, answer: Answer) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, text, finish_reason, input_tokens, output_tokens,"
                " created, system_fingerprint, requests) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    answer.text,
                    answer.finish_reason,
                    answer.input_tokens,
                    answer.output_tokens,
                    time.time(),
                    answer.system_fingerprint,
                    answer.requests,
                ),
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
    """Seconds to wait before attempt `attempt + 1`: full jitter over base * 2**(attempt-1), at least the
    server's Retry-After, and never more than `backoff_max_s` (a server asking for minutes does not stall a
    worker: the attempt is spent sooner and the prompt fails, to be asked again by a later run)."""
    ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
    delay = rng.uniform(0, ceiling)
    return min(settings.backoff_max_s, max(delay, retry_after or 0.0))


class BadResponse(ValueError):
    """A 200 answer whose body is not what the chat completions API promises."""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def answer_from(response: Any) -> Answer:
    """The `Answer` in a chat completion, checked field by field (the client builds its objects without
    validation, so a server's missing field or wrong type would otherwise surface far from here).

    Raises:
        BadResponse: no choices, no message, or content / finish reason that is not a string.
    """
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise BadResponse(f"no choices in the answer ({type(response).__name__})")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise BadResponse("the first choice has no message")
    content = getattr(message, "content", None)
    finish = getattr(choices[0], "finish_reason", None)
    if content is not None and not isinstance(content, str):
        raise BadResponse(f"message content is a {type(content).__name__}, not a string")
    if finish is not None and not isinstance(finish, str):
        raise BadResponse(f"finish_reason is a {type(finish).__name__}, not a string")
    usage = getattr(response, "usage", None)  # optional: some servers leave it out
    fingerprint = getattr(response, "system_fingerprint", None)
    return Answer(
        text=content or "",
        finish_reason=finish or "",
        input_tokens=_int(getattr(usage, "prompt_tokens", 0)),
        output_tokens=_int(getattr(usage, "completion_tokens", 0)),
        system_fingerprint=fingerprint if isinstance(fingerprint, str) else None,
    )


def _detail(error: BaseException) -> str:
    """An exception as one short phrase, with its cause (the client wraps the socket error)."""
    text = str(error).strip() or type(error).__name__
    cause = error.__cause__ or error.__context__
    if cause is not None and str(cause).strip() and str(cause) not in text:
        text = f"{text} {str(cause).strip()}"
    return " ".join(text.split())[:300]


class CircuitBreaker:
    """Decides when an endpoint is down or failing too often for a run to be worth finishing.

    It trips when the first `max_connect_failures` attempts all fail to connect or time out (no response of
    any kind yet), or when more than `max_failure_share` of the last `failure_window` prompts failed after
    all their attempts. Thread-safe; `stop` is set when it trips, so that workers stop retrying.
    """

    def __init__(self, settings: LLMConfig) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._responded = False
        self._unreachable = 0
        self._recent: deque[bool] = deque(maxlen=settings.failure_window)

    def responded(self) -> None:
        """Some HTTP response arrived (any status): the endpoint is reachable."""
        self._responded = True

    def unreachable(self, reason: str, detail: str) -> None:
        """One attempt failed to connect or timed out."""
        with self._lock:
            if self._responded:
                return
            self._unreachable += 1
            if self._unreachable >= self.settings.max_connect_failures:
                self._trip(f"the first {self._unreachable} requests all failed ({reason}: {detail})")

    def finished(self, error: str | None) -> None:
        """One prompt is done: answered, or failed after all its attempts with reason `error`."""
        with self._lock:
            self._recent.append(error is not None)
            failed, window = sum(self._recent), self.settings.failure_window
            if len(self._recent) == window and failed > self.settings.max_failure_share * window:
                self._trip(
                    f"{failed} of the last {window} prompts failed after {self.settings.max_attempts} "
                    f"attempts each (llm.max_failure_share = {self.settings.max_failure_share}; "
                    f"last error: {error})"
                )

    def _trip(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.stop.set()


class CachedLLM:
    """Chat completions through the official `openai` client, with the response cache in front."""

    def __init__(self, settings: LLMConfig, cache: ResponseCache | None = None, client: Any = None) -> None:
        self.settings = settings
        self.cache = cache if cache is not None else ResponseCache(cache_path())
        self._client = client
        self._rng = random.Random()
        self._rng_lock = threading.Lock()
        self.breaker = CircuitBreaker(settings)
        self._counted: set[str] = set()  # keys whose calls and tokens are already in some CallStats

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            if not os.environ.get("OPENAI_API_KEY"):
                raise ConfigError(
                    "backend llm: set OPENAI_API_KEY (and OPENAI_BASE_URL for a non-OpenAI "
                    "endpoint) in the environment; keys never go into params"
                )
            # Retries are ours (counted, logged, Retry-After aware), so the client's own are off.
            self._client = openai.OpenAI(timeout=self.settings.timeout_s, max_retries=0)
        return self._client

    def endpoint(self) -> str:
        """The base URL requests go to (no secrets: the key travels in a header)."""
        return str(
            getattr(self._client, "base_url", None) or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        )

    def _request(self, prompt: str) -> tuple[Answer, int]:
        """Send one prompt with retries; return the answer and the number of HTTP requests made."""
        import openai

        settings, breaker = self.settings, self.breaker
        messages = [{"role": "system", "content": settings.system_prompt}, {"role": "user", "content": prompt}]
        extra = {"seed": settings.seed} if settings.seed is not None else {}
        reason = "unknown"
        for attempt in range(1, settings.max_attempts + 1):
            if breaker.stop.is_set():
                return Answer(error="stopped"), attempt - 1
            retry_after, detail = None, ""
            try:
                response = self.client.chat.completions.create(
                    model=settings.model,
                    messages=messages,
                    temperature=settings.temperature,
                    top_p=settings.top_p,
                    max_tokens=settings.max_tokens,
                    **extra,
                )
                breaker.responded()
                answer = answer_from(response)
                return Answer(
                    text=answer.text,
                    finish_reason=answer.finish_reason,
                    requests=attempt,
                    input_tokens=answer.input_tokens,
                    output_tokens=answer.output_tokens,
                    system_fingerprint=answer.system_fingerprint,
                ), attempt
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as error:
                raise ConfigError(
                    f"the LLM endpoint refused the request ({type(error).__name__}, HTTP "
                    f"{error.status_code}): check OPENAI_API_KEY, OPENAI_BASE_URL and "
                    f"llm.model ({settings.model!r})"
                ) from None
            except openai.RateLimitError as error:
                breaker.responded()
                reason, retry_after = "http_429", _retry_after(error)
            except openai.InternalServerError as error:
                breaker.responded()
                reason, retry_after = f"http_{error.status_code}", _retry_after(error)
            except openai.APITimeoutError as error:
                reason, detail = "timeout", _detail(error)
                breaker.unreachable(reason, detail)
            except openai.APIConnectionError as error:  # refused, reset, or cut mid-body
                reason, detail = "connection", _detail(error)
                breaker.unreachable(reason, detail)
            except openai.APIStatusError as error:  # other 4xx (e.g. context too long): not worth retrying
                breaker.responded()
                return Answer(error=f"http_{error.status_code}"), attempt
            except (BadResponse, ValueError, openai.APIError) as error:
                # A 200 whose body is not JSON (json's JSONDecodeError is a ValueError) or not a completion.
                breaker.responded()
                reason, detail = "bad_response", _detail(error)
            if attempt < settings.max_attempts:
                with self._rng_lock:
                    delay = backoff_delay(attempt, settings, retry_after, self._rng)
                log.debug(
                    "attempt %d failed (%s%s); retrying in %.2f s",
                    attempt,
                    reason,
                    f": {detail}" if detail else "",
                    delay,
                )
                breaker.stop.wait(delay)  # wakes at once when the breaker trips
        return Answer(error=reason, requests=settings.max_attempts), settings.max_attempts

    def complete_many(
        self, prompts: Sequence[str], desc: str = "llm", attempt: int | Sequence[int] = 0
    ) -> tuple[list[Answer], CallStats]:
        """Answer every prompt (cache first, then the endpoint, `concurrency` at a time), in order.

        Each fresh response is committed to the cache as soon as it arrives. `attempt` > 0 (one for all, or
        one per prompt) re-asks prompts whose earlier answers could not be used: new requests under their own
        cache keys.

        Raises:
            EndpointError: the circuit breaker tripped (the endpoint is down or failing too often).
            ConfigError: the endpoint refused the key or the model.
        """
        stats = CallStats()
        answers: list[Answer | None] = [None] * len(prompts)
        attempts = [attempt] * len(prompts) if isinstance(attempt, int) else list(attempt)
        keys = [request_key(self.settings, prompt, a) for prompt, a in zip(prompts, attempts, strict=True)]
        todo: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            hit = self.cache.get(key) if key not in todo else None
            if hit is not None:
                answers[index] = hit
                stats.cache_hits += 1
                self._count_behind(stats, key, hit)
            else:
                todo.setdefault(key, []).append(index)
        if todo:
            self._check_breaker()
            _ = self.client  # create the shared client (and import openai) once, before the workers start
            pool = ThreadPoolExecutor(max_workers=self.settings.concurrency)
            try:
                with tqdm(total=len(todo), desc=desc, unit="req", leave=False) as bar:
                    futures = {pool.submit(self._fetch, key, prompts[indices[0]]): key for key, indices in todo.items()}
                    for future in as_completed(futures):
                        answer, sent = future.result()
                        stats.calls += sent
                        if answer.error is None:
                            stats.input_tokens += answer.input_tokens
                            stats.output_tokens += answer.output_tokens
                        elif answer.error != "stopped":
                            stats.failures[answer.error] += 1
                        self._count_behind(stats, futures[future], answer, sent)
                        for index in todo[futures[future]]:
                            answers[index] = answer
                        bar.update()
                        self._check_breaker()
            except BaseException:
                # Ctrl-C, the breaker or a refused key: stop retrying and drop what has not started.
                self.breaker.stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
        return answers, stats

    def _count_behind(self, stats: CallStats, key: str, answer: Answer, sent: int | None = None) -> None:
        """Add an answer's requests and tokens to the calls behind the output, once per key and client."""
        if answer.error is not None:
            stats.calls_behind += sent or 0  # failed requests are not cached: only this run knows them
            return
        if key in self._counted:
            return
        self._counted.add(key)
        stats.calls_behind += answer.requests
        stats.input_tokens_behind += answer.input_tokens
        stats.output_tokens_behind += answer.output_tokens

    def _check_breaker(self) -> None:
        if self.breaker.reason is not None:
            raise EndpointError(
                f"LLM endpoint {self.endpoint()} ({self.settings.model}): {self.breaker.reason}. Check that the "
                "server is running and reachable, that OPENAI_BASE_URL points at it and that it serves "
                "llm.model; the stage stopped so that no all-rejected output is recorded (answers received "
                "so far stay in the response cache)"
            )

    def _fetch(self, key: str, prompt: str) -> tuple[Answer, int]:
        """Request one prompt and commit its response to the cache at once (in the worker thread)."""
        answer, sent = self._request(prompt)
        if answer.error is None:
            self.cache.put(key, self.settings.model, answer)
        if answer.error != "stopped":
            self.breaker.finished(answer.error)
        return answer, sent
