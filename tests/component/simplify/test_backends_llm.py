"""The `llm` backend against the local fake endpoint: every fault mode, alignment, cache, and the API key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.simplify_corpus import write_simplify_corpus
from tinyhelen.core.config import with_changes
from tinyhelen.core.io import iter_records
from tinyhelen.simplify.backends import simplify_corpus

SECRET = "sk-test-THIS-KEY-MUST-NOT-LEAK-0042"


@pytest.fixture
def llm_env(tmp_path, monkeypatch):
    with FakeLLMServer(slow_s=1.2, retry_after=0.05) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache" / "responses.sqlite"))
        yield server


def llm_params(params, **simplify):
    llm = with_changes(params.llm, timeout_s=0.5, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05,
                       concurrency=4)
    simplify = {"backend": "llm", "splits": ["train"], "math": "grade", "genres": ["web", "wiki", "code", "math"],
                **simplify}
    settings = with_changes(params.simplify, **simplify)
    return params.model_copy(update={"llm": llm, "simplify": settings})


def read(path: Path) -> list[dict]:
    return [record for _, record in iter_records(path)] if path.exists() else []


def test_every_fault_ends_in_output_or_reject(params, tmp_path, llm_env, caplog):
    caplog.set_level(logging.DEBUG)
    corpus = write_simplify_corpus(tmp_path / "clean")
    result = simplify_corpus(llm_params(params), corpus, tmp_path / "leaner")

    rejects = {(r["genre"], r["reason"]) for r in read(tmp_path / "leaner" / "rejects.jsonl")}
    kept = {r["text"].split(".")[0] for r in read(tmp_path / "leaner" / "train" / "web.jsonl")}
    # transient faults are retried and the document is kept
    assert {"Story 0", "Story 1", "Story about FAULT:429", "Story about FAULT:500", "Story about FAULT:slow"} <= kept
    # the rest are rejected with their reason, never dropped silently
    assert {("web", "http_429"), ("web", "no_end_marker"), ("web", "misaligned"), ("web", "length"),
            ("web", "echoed_prompt"), ("web", "empty_output"), ("code", "no_end_marker"),
            ("instruction", "echoed_prompt")} <= rejects
    for genre in ("web", "wiki", "code", "math", "instruction"):
        name = "instruction.jsonl" if genre == "instruction" else f"train/{genre}.jsonl"
        inputs = {r["id"] for r in read(corpus / "ori" / name)}
        outputs = {r["id"] for r in read(tmp_path / "leaner" / name)}
        rejected = {r["id"] for r in read(tmp_path / "leaner" / "rejects.jsonl") if r["genre"] == genre}
        assert outputs | rejected == inputs and not outputs & rejected, genre
    metrics = result.metrics["genres"]
    assert metrics["web"]["failures"]["http_429"] == 1 and metrics["web"]["llm_calls"] >= 11
    assert metrics["math"]["documents_out"] == 3 and metrics["math"]["llm_calls"] == 1
    for record in read(tmp_path / "leaner" / "train" / "math.jsonl"):
        assert record["meta"]["difficulty"] == "A" and record["variant"] == "leaner"
    code = read(tmp_path / "leaner" / "train" / "code.jsonl")[0]
    assert "return {'sum': a + b}" in code["response"] and code["text"] == f"{code['prompt']} {code['response']}"
    # the key was sent to the server, but never logged or written
    assert all({k.lower(): v for k, v in h.items()}["authorization"] == f"Bearer {SECRET}" for h in llm_env.headers)
    assert SECRET not in caplog.text
    for path in (tmp_path / "leaner").rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text()
    assert SECRET.encode() not in (tmp_path / "cache" / "responses.sqlite").read_bytes()


def test_multi_document_chunk_fails_whole_not_shifted(params, tmp_path, llm_env):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=())
    chunking = with_changes(params.simplify.chunking,
                            wiki={"docs_per_group": 4, "sentences_per_step": 50, "token_threshold": 10_000})
    simplify_corpus(llm_params(params, genres=["wiki"], chunking=chunking.model_dump()), corpus, tmp_path / "out")
    # one request held all four wiki documents; the answer had one passage too many, so none is kept
    assert read(tmp_path / "out" / "train" / "wiki.jsonl") == []
    reasons = [r["reason"] for r in read(tmp_path / "out" / "rejects.jsonl") if r["genre"] == "wiki"]
    assert reasons == ["misaligned"] * 4


def test_rerun_makes_no_calls_and_gives_the_same_output(params, tmp_path, llm_env):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=("noend",))
    settings = llm_params(params)
    first = simplify_corpus(settings, corpus, tmp_path / "a")
    sent = len(llm_env.requests)
    second = simplify_corpus(settings, corpus, tmp_path / "b")
    assert len(llm_env.requests) == sent and second.metrics["total"]["llm_calls"] == 0
    assert second.metrics["total"]["cache_hits"] == first.metrics["total"]["llm_calls"]
    for path in (tmp_path / "a").rglob("*.jsonl"):
        assert path.read_text() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_text()


def test_missing_key_is_a_clear_error(params, tmp_path, monkeypatch):
    from tinyhelen.core.errors import ConfigError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "c.sqlite"))
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=())
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        simplify_corpus(llm_params(params), corpus, tmp_path / "out")
    assert not (tmp_path / "out").exists()
