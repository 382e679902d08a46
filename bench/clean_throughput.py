"""Benchmark: clean the ori 10M data of ../shared/tinyhelen-data; print MB/s, documents/s and the speed-up
of the worker pool over a single process (same machine, same run).

    python bench/clean_throughput.py [--data ../shared/tinyhelen-data] [--workers 2] [--repeats 3]

The data is ingested first (into a temporary folder); only the clean pass is timed, each configuration
`--repeats` times (shared virtual machines are noisy: the best and the median are printed). MB are UTF-8
bytes of the documents' text. Target: >= 5 MB/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TINYHELEN_TRACKING", "off")

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.corpus.clean import clean_corpus  # noqa: E402
from tinyhelen.corpus.ingest import ingest  # noqa: E402
from tinyhelen.params import load_params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/tinyhelen-data")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    params = load_params("params.yaml")
    data = with_changes(
        params.data, source=args.data, budget="10M", variants=["ori"], glue_tasks=[], eval_sets=[], instructions=False
    )
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        ingest(data, params.ingest, raw)
        size = sum(
            len(json.loads(line)["text"].encode())
            for path in raw.rglob("*.jsonl")
            for line in path.open(encoding="utf-8")
        )
        docs = sum(1 for path in raw.rglob("*.jsonl") for _ in path.open(encoding="utf-8"))
        timings: dict[int, list[float]] = {}
        for workers in (1, args.workers):
            cfg = with_changes(params.clean, workers=workers)
            for repeat in range(args.repeats):
                out = Path(tmp) / f"clean{workers}-{repeat}"
                start = time.perf_counter()
                result = clean_corpus(raw, out, data, cfg)
                timings.setdefault(workers, []).append(time.perf_counter() - start)
                reference = Path(tmp) / "clean1-0" / "rejects.jsonl"
                same = reference.read_bytes() == (out / "rejects.jsonl").read_bytes()
                seconds = timings[workers][-1]
                kept = result.metrics["totals"]["ori"]["documents_out"]
                print(
                    f"workers={workers} run {repeat + 1}: {seconds:.2f} s, {size / seconds / 1e6:.2f} MB/s, "
                    f"{docs / seconds:.0f} documents/s, {kept} documents kept, "
                    f"same output as workers=1: {same}"
                )
        print(f"data: {size / 1e6:.1f} MB, {docs} documents; load average {os.getloadavg()[0]:.1f}")
        for workers, seconds in timings.items():
            print(
                f"workers={workers}: best {size / min(seconds) / 1e6:.2f} MB/s, "
                f"median {size / statistics.median(seconds) / 1e6:.2f} MB/s"
            )
        speedup = min(timings[1]) / min(timings[args.workers])
        print(f"pool speed-up over one process (best runs): {speedup:.2f}x")


if __name__ == "__main__":
    main()
