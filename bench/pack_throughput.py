"""Benchmark: tokenise and pack the leaner and ori 10M corpora; print tokens/s against a baseline.

    python -m stages.ingest --out /tmp/th/raw --params <params.yaml with data.source: ../shared/tinyhelen-data>
    python bench/pack_throughput.py --raw /tmp/th/raw [--families causal bert xlnet] [--block-size 1024]

Trains the causal tokenizer on the leaner train text (the `tokenizer` stage's code), writes every ingested
document of each corpus as one composed file per split (all genres), then times `tinyhelen.tokens.pack.pack` on
them (wall time, reading and writing included). The baseline, in the same run on the same machine, is the
paper's way (spec §5.2): transformers' `tokenizer(texts)` on batches of 1,000 documents with eos appended,
then `group_texts`-style concatenation and chunking in Python lists. Target: >= 1M tokens/s on 2 cores. The load
average is printed, since other
processes on the machine slow both sides.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.core.documents import corpus_file, iter_documents, training_text  # noqa: E402
from tinyhelen.core.io import write_jsonl  # noqa: E402
from tinyhelen.core.release import GENRES, SPLITS  # noqa: E402
from tinyhelen.params import load_params  # noqa: E402
from tinyhelen.tokens.pack import pack  # noqa: E402
from tinyhelen.tokens.tokenizer import build_tokenizers  # noqa: E402


def write_composed(raw: Path, out: Path) -> int:
    """Every document of `raw/<corpus>/<split>/<genre>.jsonl` into `out/<corpus>/<split>.jsonl`."""
    count = 0
    for corpus in ("leaner", "ori"):
        for split in SPLITS:
            records = [r for g in GENRES for r in iter_documents(corpus_file(raw / corpus, split, g))]
            count += write_jsonl(out / corpus / f"{split}.jsonl", records)
    return count


def baseline(composed: Path, tokenizer_dir: Path, block_size: int) -> tuple[int, float]:
    """The paper's run_clm path: HF tokenizer call per 1,000 documents, eos appended, group_texts chunks."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokens, started = 0, time.perf_counter()
    for corpus in ("leaner", "ori"):
        for split in SPLITS:
            texts = [training_text(r) for r in iter_documents(composed / corpus / f"{split}.jsonl")]
            for start in range(0, len(texts), 1000):
                batch = [t + tokenizer.eos_token for t in texts[start : start + 1000]]
                ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
                flat = list(itertools.chain.from_iterable(ids))
                total = len(flat) // block_size * block_size
                blocks = [flat[i : i + block_size] for i in range(0, total, block_size)]
                tokens += sum(map(len, ids))
                del blocks
    return tokens, time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (pack's worker processes), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", required=True, help="ingested corpus folder (data/raw layout)")
    parser.add_argument("--families", nargs="+", default=["causal"], choices=["causal", "bert", "xlnet"])
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2, help="pack.workers")
    args = parser.parse_args()

    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    raw = Path(args.raw)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_tokenizers(
            with_changes(params.tokenizer, families=sorted(set(args.families) | {"causal"})),
            {"leaner": raw / "leaner", "ori": raw / "ori"},
            tmp / "tokenizers",
        )
        documents = write_composed(raw, tmp / "composed")
        load_before = os.getloadavg()[0]
        cpu = cpu_seconds()
        result = pack(
            with_changes(params.pack, families=args.families, block_size=args.block_size, workers=args.workers),
            tmp / "composed",
            tmp / "tokenizers",
            tmp / "packed",
        )
        ours_tokens, ours_seconds = result.metrics["tokens"], result.metrics["seconds"]
        ours_cpu, cpu = cpu_seconds() - cpu, cpu_seconds()
        base_tokens, base_seconds = baseline(tmp / "composed", tmp / "tokenizers" / "causal", args.block_size)
        base_cpu = cpu_seconds() - cpu
        load_after = os.getloadavg()[0]
    ours = ours_tokens / ours_seconds
    base = base_tokens / base_seconds
    print(
        f"documents: {documents} (leaner + ori, all splits and genres); cores: {os.cpu_count()}; "
        f"load average {load_before:.1f} -> {load_after:.1f}"
    )
    print(
        f"pack ({', '.join(args.families)}; {args.workers} workers): {ours_tokens:,} tokens in {ours_seconds:.1f} s "
        f"= {ours:,.0f} tokens/s"
    )
    print(
        f"baseline (HF tokenizer call + group_texts, causal): {base_tokens:,} tokens in {base_seconds:.1f} s "
        f"= {base:,.0f} tokens/s"
    )
    print(
        f"CPU time: pack {ours_cpu:.1f} s ({ours_tokens / ours_cpu:,.0f} tokens per CPU-second), baseline "
        f"{base_cpu:.1f} s ({base_tokens / base_cpu:,.0f} tokens per CPU-second)"
    )
    print(
        f"ratio ours/baseline: {ours / base:.2f}x wall, {base_cpu / ours_cpu:.2f}x CPU; "
        f"target >= 1M tokens/s: {'met' if ours >= 1e6 else 'NOT met'} at this load"
    )


if __name__ == "__main__":
    main()
