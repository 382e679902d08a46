"""The LLM client against the fake server's random faults: every malformed answer is a retried failure,
never an exception, and the circuit breaker stops a dead or failing endpoint within seconds."""

from __future__ import annotations

import socket
import time

import pytest

from tests.fake_llm_server import FakeLLMServer
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import EndpointError
from tinyhelen.simplify.llm import CachedLLM, ResponseCache


def prompt(text: str) -> str:
    """A web prompt as the fake server reads it."""
    return f"Rewrite it simply.\nORIGINAL WEB CONTENT:\n{text}"


def _client(params, tmp_path, monkeypatch, base_url: str, **changes) -> CachedLLM:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-faults")
    settings = with_changes(
        params.llm,
        **{
            "timeout_s": 0.5,
            "max_attempts": 3,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.02,
            "concurrency": 4,
            **changes,
        },
    )
    return CachedLLM(settings, cache=ResponseCache(tmp_path / "cache.sqlite"))


@pytest.mark.parametrize("mode", ["badjson", "nofields", "wrongtypes", "reset", "503"])
def test_a_malformed_answer_is_a_failure_with_a_reason_not_a_crash(params, tmp_path, monkeypatch, mode):
    with FakeLLMServer(fault_rate=1.0, fault_modes=(mode,)) as server:
        llm = _client(params, tmp_path, monkeypatch, server.base_url)
        (answer,), stats = llm.complete_many([prompt("Say hello.")])
    reason = {
        "badjson": "bad_response",
        "nofields": "bad_response",
        "wrongtypes": "bad_response",
        "reset": "connection",
        "503": "http_503",
    }[mode]
    assert answer.error == reason and stats.failures == {reason: 1}
    assert stats.calls == 3 and len(server.requests) == 3  # retried within max_attempts
    assert len(llm.cache) == 0  # nothing unusable is cached


def test_random_faults_are_retried_until_answered(params, tmp_path, monkeypatch):
    with FakeLLMServer(fault_rate=0.5, fault_seed=7, slow_s=0.7) as server:
        llm = _client(params, tmp_path, monkeypatch, server.base_url, max_attempts=8)
        answers, stats = llm.complete_many([prompt(f"Prompt {i}.") for i in range(12)])
    assert all(answer.error is None and answer.text for answer in answers)
    assert stats.calls == len(server.requests) > 12 and server.faults
    # the calls behind the answers are the requests each took, retries included
    assert stats.calls_behind == stats.calls == sum(answer.requests for answer in answers)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_endpoint_trips_the_breaker_within_seconds(params, tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    llm = _client(
        params, tmp_path, monkeypatch, url, max_attempts=6, backoff_base_s=1.0, backoff_max_s=60.0, concurrency=2
    )
    _ = llm.client  # the client's set-up is not the endpoint's time
    started = time.monotonic()
    with pytest.raises(EndpointError) as error:
        llm.complete_many([prompt(f"Prompt {i}.") for i in range(50)])
    assert time.monotonic() - started < 10
    message = str(error.value)
    assert url in message and "the first 4 requests all failed (connection" in message
    assert "OPENAI_BASE_URL" in message and "sk-test" not in message


def test_a_failing_endpoint_trips_the_breaker_on_its_failure_share(params, tmp_path, monkeypatch):
    with FakeLLMServer(fault_rate=1.0, fault_modes=("500",)) as server:
        llm = _client(
            params,
            tmp_path,
            monkeypatch,
            server.base_url,
            max_attempts=2,
            failure_window=5,
            max_failure_share=0.5,
            concurrency=1,
        )
        with pytest.raises(EndpointError, match=r"5 of the last 5 prompts failed after 2 attempts each"):
            llm.complete_many([prompt(f"Prompt {i}.") for i in range(40)])
    assert len(server.requests) <= 2 * 6  # it stopped, instead of failing all 40 prompts


def test_retry_after_is_capped(params, tmp_path, monkeypatch):
    with FakeLLMServer(retry_after=20) as server:
        llm = _client(params, tmp_path, monkeypatch, server.base_url, backoff_max_s=0.2)
        started = time.monotonic()
        (answer,), _ = llm.complete_many([prompt("Story about FAULT:429.")])
    assert answer.error is None and time.monotonic() - started < 5
