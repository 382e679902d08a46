"""Cache keys, the durable response cache and the retry backoff."""

from __future__ import annotations

import random

from tinyhelen.core.config import with_changes
from tinyhelen.simplify.llm import Answer, ResponseCache, backoff_delay, cache_path, request_key


def test_request_key_covers_model_prompt_and_decoding(params):
    base = request_key(params.llm, "hello")
    assert base == request_key(params.llm, "hello")
    changed = [request_key(params.llm, "hello!")] + [
        request_key(with_changes(params.llm, **change), "hello")
        for change in ({"model": "other"}, {"temperature": 0.7}, {"top_p": 0.5}, {"max_tokens": 7}, {"seed": 1},
                       {"system_prompt": "Be brief."})]
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
    assert backoff_delay(1, settings, 30.0, rng) == 30.0  # Retry-After beats the cap
