"""Benchmark: LLM simplification throughput against the local fake endpoint, and the cost of a re-run.

    python bench/simplify_throughput.py [--chunks 200] [--latency 0.2] [--concurrency 16]

Starts `tests/fake_llm_server.py` in its own process with `--latency` seconds added to every answer, then
simplifies `--chunks` one-chunk web documents through the real `llm` backend (openai client, cache, thread
pool) with a fresh cache. Prints the achieved requests/s against the ideal (concurrency / latency; target
>= 0.8), end to end and for the request phase alone, and the calls made by an immediate second run (target 0).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.params import load_params  # noqa: E402
from tinyhelen.simplify.backends import GenreStats, LLMBackend  # noqa: E402
from tinyhelen.simplify.llm import CachedLLM, ResponseCache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_llm_server", "--latency", str(args.latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(server.stdout.readline().split()[1])
        os.environ.update(OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="sk-bench-not-a-key")
        params = load_params(ROOT / "params.yaml")
        params = params.model_copy(
            update={
                "llm": with_changes(params.llm, concurrency=args.concurrency),
                "simplify": with_changes(params.simplify, backend="llm"),
            }
        )
        docs = [
            {
                "id": f"{i:064x}",
                "genre": "web",
                "text": f"Document {i}. The small dog ran to the park and "
                f"played with a red ball near the big tree. Then it went home, ate some food and slept.",
                "meta": {},
            }
            for i in range(args.chunks)
        ]
        with tempfile.TemporaryDirectory() as tmp:
            cache = ResponseCache(Path(tmp) / "cache.sqlite")
            backend = LLMBackend(params.simplify, params.llm, params.sentences, llm=CachedLLM(params.llm, cache=cache))
            _ = backend.llm.client  # import openai and build the client outside the timed part
            backend.split("Load the sentence splitter. Outside the timed part too.")
            request_seconds = []
            complete_many = backend.llm.complete_many

            def timed_complete_many(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return complete_many(*args, **kwargs)
                finally:
                    request_seconds.append(time.perf_counter() - start)

            backend.llm.complete_many = timed_complete_many
            results = []
            for _ in range(2):
                stats = GenreStats()
                start = time.perf_counter()
                outcomes = backend.run("train", "web", docs, stats)
                results.append((time.perf_counter() - start, stats, outcomes))
        (first_s, first, outcomes), (second_s, second, _) = results
        achieved = first.calls.calls / first_s
        ideal = args.concurrency / args.latency
        kept = sum(o.record is not None for o in outcomes)
        print(f"chunks: {args.chunks}  kept: {kept}  calls (1st run): {first.calls.calls}")
        print(
            f"achieved: {achieved:.1f} req/s  ideal: {ideal:.1f} req/s  ratio: {achieved / ideal:.2f} "
            f"(target >= 0.8; end to end: chunking, prompts, requests, parsing)"
        )
        requests_only = first.calls.calls / request_seconds[0] / ideal
        print(f"requests alone (cache + thread pool + openai client): ratio {requests_only:.2f}")
        print(
            f"second run: {second.calls.calls} calls, {second.calls.cache_hits} cache hits, {second_s:.2f} s "
            f"(target 0 calls)"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
