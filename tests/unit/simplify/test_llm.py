"""Cache keys (re-asks included), the durable response cache, the retry backoff and the answer checks."""

from __future__ import annotations

import random

import pytest

from tinyhelen.core.config import with_changes
from tinyhelen.simplify.llm import (
    Answer,
    BadResponse,
    ResponseCache,
    answer_from,
    backoff_delay,
    cache_path,
    request_key,
)


def test_request_key_covers_model_prompt_and_decoding(params):
    base = request_key(params.llm, "hello")
    assert base == request_key(params.llm, "hello")
    changed = [request_key(params.llm, "hello!")] + [
        request_key(with_changes(params.llm, **change), "hello")
        for change in (
            {"model": "other"},
            {"temperature": 0.7},
            {"top_p": 0.5},
            {"max_tokens": 7},
            {"seed": 1},
            {"system_prompt": "Be brief."},
        )
    ]
    assert len({base, *changed}) == 1 + len(changed)
    # transport settings do not change what the model answers, so they do not change the key
    assert request_key(with_changes(params.llm, concurrency=3, timeout_s=1.0), "hello") == base


def test_cache_survives_reopening(tmp_path):
    path = tmp_path / "deep" / "cache.sqlite"
    cache = ResponseCache(path)
    cache.put("k1", "m", Answer(text="hi", finish_reason="stop", input_tokens=3, output_tokens=1))
    cache.close()  # no explicit commit needed: every put is its own transaction
    again = ResponseCache(path)
    assert again.get("k1") == Answer(text="hi", finish_reason="stop", input_tokens=3, output_tokens=1, cached=True)
    assert again.get("k2") is None and len(again) == 1


def test_cache_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYHELEN_LLM_CACHE", raising=False)
    assert str(cache_path()) == ".cache/llm/responses.sqlite"
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "c.sqlite"))
    assert cache_path() == tmp_path / "c.sqlite"


def test_backoff_is_exponential_capped_jittered_and_honours_retry_after(params):
    settings = with_changes(params.llm, backoff_base_s=1.0, backoff_max_s=5.0)
    rng = random.Random(0)
    delays = [backoff_delay(attempt, settings, None, rng) for attempt in (1, 2, 3, 10) for _ in range(50)]
    assert all(0 <= d <= 1 for d in delays[:50]) and all(0 <= d <= 2 for d in delays[50:100])
    assert all(d <= 5 for d in delays) and len(set(delays)) > 100  # jitter
    assert backoff_delay(1, settings, 3.0, rng) >= 3.0  # Retry-After is honoured ...
    assert backoff_delay(1, settings, 30.0, rng) == 5.0  # ... up to the cap: a 30 s header does not stall a worker
    assert backoff_delay(1, with_changes(settings, backoff_max_s=1.0), 20.0, rng) == 1.0


def test_reask_number_is_part_of_the_key_and_the_first_ask_keeps_its_key(params):
    import hashlib
    import json

    llm = params.llm
    payload = {
        "model": llm.model,
        "system": llm.system_prompt,
        "prompt": "hello",
        "temperature": llm.temperature,
        "top_p": llm.top_p,
        "max_tokens": llm.max_tokens,
        "seed": llm.seed,
    }
    old_key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()
    assert request_key(llm, "hello") == request_key(llm, "hello", attempt=0) == old_key  # caches stay valid
    assert len({request_key(llm, "hello", attempt=n) for n in range(4)}) == 4


def test_cache_keeps_the_requests_behind_each_answer_and_reads_old_caches(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before request counts were kept
        db.execute(
            "CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT, text TEXT, finish_reason TEXT,"
            " input_tokens INTEGER, output_tokens INTEGER, created REAL)"
        )
        db.execute("INSERT INTO responses VALUES ('old', 'm', 'hi', 'stop', 5, 2, 0)")
    cache = ResponseCache(path)
    assert cache.get("old") == Answer(
        text="hi", finish_reason="stop", input_tokens=5, output_tokens=2, cached=True, requests=1
    )
    cache.put("new", "m", Answer(text="yo", finish_reason="stop", input_tokens=7, output_tokens=3, requests=4))
    assert cache.get("new").requests == 4


def _completion(**fields):
    from types import SimpleNamespace

    message = SimpleNamespace(content=fields.get("content", "text"))
    choice = SimpleNamespace(message=message, finish_reason=fields.get("finish_reason", "stop"))
    return SimpleNamespace(choices=fields.get("choices", [choice]), usage=fields.get("usage"))


@pytest.mark.parametrize(
    "response, problem",
    [
        ("<html>502</html>", "no choices"),
        (_completion(choices=None), "no choices"),
        (_completion(choices=[]), "no choices"),
        (_completion(choices="oops"), "no choices"),
        (_completion(content=42), "content is a int"),
        (_completion(finish_reason=["stop"]), "finish_reason is a list"),
    ],
)
def test_answer_from_refuses_malformed_completions(response, problem):
    with pytest.raises(BadResponse, match=problem):
        answer_from(response)


def test_answer_from_takes_a_completion_without_usage():
    from types import SimpleNamespace

    assert answer_from(_completion()) == Answer(text="text", finish_reason="stop")
    usage = SimpleNamespace(prompt_tokens=9, completion_tokens="3")  # a wrong type counts as 0, not a crash
    assert answer_from(_completion(usage=usage, content=None)) == Answer(finish_reason="stop", input_tokens=9)
