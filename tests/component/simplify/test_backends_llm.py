"""The `llm` backend against the local fake endpoint: every fault mode, alignment, cache, and the API key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.sections import simplify_sections
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
    llm = with_changes(
        params.llm, timeout_s=0.5, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05, concurrency=4
    )
    simplify = {
        "backend": "llm",
        "splits": ["train"],
        "math": "grade",
        "genres": ["web", "wiki", "code", "math"],
        **simplify,
    }
    settings = with_changes(params.simplify, **simplify)
    return params.model_copy(update={"llm": llm, "simplify": settings})


def read(path: Path) -> list[dict]:
    return [record for _, record in iter_records(path)] if path.exists() else []


def test_every_fault_ends_in_output_or_reject(params, tmp_path, llm_env, caplog):
    caplog.set_level(logging.DEBUG)
    corpus = write_simplify_corpus(tmp_path / "clean")
    result = simplify_corpus(*simplify_sections(llm_params(params)), corpus, tmp_path / "leaner")

    rejects = {(r["genre"], r["reason"]) for r in read(tmp_path / "leaner" / "rejects.jsonl")}
    kept = {r["text"].split(".")[0] for r in read(tmp_path / "leaner" / "train" / "web.jsonl")}
    # transient faults are retried and the document is kept
    assert {"Story 0", "Story 1", "Story about FAULT:429", "Story about FAULT:500", "Story about FAULT:slow"} <= kept
    # the rest are rejected with their reason, never dropped silently
    assert {
        ("web", "http_429"),
        ("web", "no_end_marker"),
        ("web", "misaligned"),
        ("web", "length"),
        ("web", "echoed_prompt"),
        ("web", "empty_output"),
        ("code", "no_end_marker"),
        ("instruction", "echoed_prompt"),
    } <= rejects
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
    chunking = with_changes(
        params.simplify.chunking, wiki={"docs_per_group": 4, "sentences_per_step": 50, "token_threshold": 10_000}
    )
    simplify_corpus(
        *simplify_sections(llm_params(params, genres=["wiki"], chunking=chunking.model_dump())),
        corpus,
        tmp_path / "out",
    )
    # one request held all four wiki documents; the answer had one passage too many, so none is kept
    assert read(tmp_path / "out" / "train" / "wiki.jsonl") == []
    reasons = [r["reason"] for r in read(tmp_path / "out" / "rejects.jsonl") if r["genre"] == "wiki"]
    assert reasons == ["misaligned"] * 4


def test_rerun_makes_no_calls_and_gives_the_same_output(params, tmp_path, llm_env):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=("noend",))
    settings = llm_params(params)
    first = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "a")
    sent = len(llm_env.requests)
    second = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "b")
    # Only prompts whose answers could not be used are asked again (llm.max_parse_retries fresh re-asks
    # each: a later run may recover them); every usable answer comes from the cache.
    again = llm_env.prompts[sent:]
    assert len(again) == second.metrics["total"]["llm_calls"] > 0
    assert all("FAULT:" in prompt for prompt in again)
    assert len(again) == settings.llm.max_parse_retries * len(set(again))
    assert (
        second.metrics["total"]["cache_hits"] >= first.metrics["total"]["llm_calls"] - first.metrics["total"]["reasks"]
    )
    for path in (tmp_path / "a").rglob("*.jsonl"):
        assert path.read_text() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_text()


def test_one_bad_answer_is_asked_again_and_the_document_kept(params, tmp_path, llm_env):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=("noendonce",))
    result = simplify_corpus(
        *simplify_sections(llm_params(params, genres=["web"], instructions=False)), corpus, tmp_path / "out"
    )
    kept = {r["text"].split(".")[0] for r in read(tmp_path / "out" / "train" / "web.jsonl")}
    assert "Story about FAULT:noendonce" in kept and read(tmp_path / "out" / "rejects.jsonl") == []
    assert result.metrics["genres"]["web"]["reasks"] == 1
    asked = [p for p in llm_env.prompts if "FAULT:noendonce" in p]
    assert len(asked) == 2  # the first answer and one re-ask, a new request under its own cache key


def test_a_chunk_of_several_documents_is_recovered_by_a_reask(params, tmp_path, llm_env):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=())
    wiki = read(corpus / "ori" / "train" / "wiki.jsonl")[:3]
    wiki[1] = {**wiki[1], "text": wiki[1]["text"] + " FAULT:noendonce"}
    from tinyhelen.core.io import write_jsonl

    write_jsonl(corpus / "ori" / "train" / "wiki.jsonl", wiki)
    chunking = with_changes(
        params.simplify.chunking, wiki={"docs_per_group": 3, "sentences_per_step": 50, "token_threshold": 10_000}
    )
    simplify_corpus(
        *simplify_sections(llm_params(params, genres=["wiki"], instructions=False, chunking=chunking.model_dump())),
        corpus,
        tmp_path / "out",
    )
    assert len(read(tmp_path / "out" / "train" / "wiki.jsonl")) == 3  # the one chunk failed once, then worked


def test_a_rerun_recovers_what_transient_bad_answers_rejected(params, tmp_path, monkeypatch):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=("noendonce",))
    settings = llm_params(params, genres=["web"], instructions=False)
    retries = settings.llm.max_parse_retries
    with FakeLLMServer(fail_times=retries + 1) as server:  # bad for the first ask and every re-ask of run 1
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
        first = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "a")
        assert first.metrics["genres"]["web"]["failures"] == {"no_end_marker": 1}
        second = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "b")  # the endpoint is healthy again
    assert second.metrics["genres"]["web"]["failures"] == {}
    assert second.metrics["total"]["llm_calls"] == 1  # only the next re-ask; the rest came from the cache
    assert len(read(tmp_path / "b" / "train" / "web.jsonl")) == 3


def test_metrics_count_the_calls_and_tokens_behind_the_output(params, tmp_path, llm_env, monkeypatch):
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=("429", "500"))
    settings = llm_params(params, genres=["web", "math"], instructions=False, math_grade_batch=1)
    partial = llm_params(params, genres=["web", "math"], instructions=False, math_grade_batch=1, max_documents=2)
    simplify_corpus(
        *simplify_sections(partial), corpus, tmp_path / "part"
    )  # an earlier run (or a crashed one) paid for some
    resumed = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "a").metrics["total"]
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "fresh.sqlite"))
    llm_env._attempts.clear()  # the same transient faults again
    fresh = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "b").metrics["total"]
    assert 0 < resumed["llm_calls"] < fresh["llm_calls"] and resumed["cache_hits"] > 0
    for key in (
        "llm_calls_behind_output",
        "input_tokens_behind_output",
        "output_tokens_behind_output",
        "estimated_cost",
    ):
        assert resumed[key] == fresh[key] > 0, key
    assert fresh["llm_calls_behind_output"] == fresh["llm_calls"] == 9  # 7 prompts, two of them retried once


def test_random_faults_at_30_percent_finish_in_one_run(params, tmp_path, monkeypatch):
    """Faults drawn at random (seeded) on any request, not only on marked inputs: every document ends kept
    or rejected with a reason, in one run."""
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=(), instructions=12)
    settings = llm_params(params)
    settings = settings.model_copy(update={"llm": with_changes(settings.llm, max_attempts=6, timeout_s=0.4)})
    with FakeLLMServer(fault_rate=0.3, fault_seed=13, slow_s=0.5, retry_after=0.01) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
        result = simplify_corpus(*simplify_sections(settings), corpus, tmp_path / "out")
    assert len(server.faults) >= 5 and len(set(server.faults)) >= 4
    rejects = read(tmp_path / "out" / "rejects.jsonl")
    assert all(r["reason"] for r in rejects)
    for genre in ("web", "wiki", "code", "math", "instruction"):
        name = "instruction.jsonl" if genre == "instruction" else f"train/{genre}.jsonl"
        inputs = {r["id"] for r in read(corpus / "ori" / name)}
        outputs = {r["id"] for r in read(tmp_path / "out" / name)}
        rejected = {r["id"] for r in rejects if r["genre"] == genre}
        assert outputs | rejected == inputs and not outputs & rejected, genre
    # only the fixture's deliberate content faults are rejected: the random ones were all retried away
    assert sorted(r["reason"] for r in rejects) == ["echoed_prompt", "misaligned", "no_end_marker"]
    assert result.metrics["total"]["documents_out"] == result.metrics["total"]["documents_in"] - 3


def test_a_dead_endpoint_fails_the_stage_and_writes_nothing(params, tmp_path, monkeypatch):
    import socket

    from tinyhelen.core.errors import EndpointError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
    corpus = write_simplify_corpus(tmp_path / "clean")
    with pytest.raises(EndpointError, match=f"127.0.0.1:{port}.*could not|127.0.0.1:{port}.*all failed"):
        simplify_corpus(*simplify_sections(llm_params(params)), corpus, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # DVC never records an all-rejected output as done
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_missing_key_is_a_clear_error(params, tmp_path, monkeypatch):
    from tinyhelen.core.errors import ConfigError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "c.sqlite"))
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=())
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        simplify_corpus(*simplify_sections(llm_params(params)), corpus, tmp_path / "out")
    assert not (tmp_path / "out").exists()
