"""Benchmark: minimal-pair scoring throughput. Prints sentences/s of the batched scorer against a
one-sentence-at-a-time loop (same model, same sentences, same function with batch size 1) and the time to score
all Zorro sentences with the paper's ~14M Llama and BERT configs (random init: the cost does not depend on the
weights).

    python bench/probe_throughput.py [--zorro ../shared/zorro] [--threads 2] [--ratio-pairs 13]
        [--batch-size 64] [--limit-pairs 0] [--archs llama bert] [--device cpu] [--dims paper|sample]

Pairs are taken whole and per paradigm, the first N of each, as `probe.max_pairs` takes them, so the sentences
share prefixes as in a real run (the causal scorer merges shared prefixes into prefix trees; its row-by-row rate,
`share_prefixes=False`, is printed too). Tokenizers: 2,000-entry byte-level BPEs of the project's families
(tinyhelen.tokens.tokenizer.train_bpe), trained here on the shared release's leaner 10M book text (`--text`;
Zorro alone has too few distinct pairs for 2K). `--limit-pairs N` times the full run on the first N pairs of every
paradigm and extrapolates to all (0 = all, the default; BERT's pseudo-log-likelihood needs one for a short run).
Scores are FLOP-bound: ~30 MFLOP per token for the 14M Llama, so time it on an otherwise idle machine. Targets:
batched >= 10x the loop; causal scoring of all of Zorro < 5 min on 2 cores. CPU numerics are the stages'
(portable); `TINYHELEN_CPU_NUMERICS=native` times the machine's fastest kernels instead.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TINYHELEN_TRACKING", "off")

import tinyhelen  # noqa: E402, F401  (sets the CPU numerics before torch loads, as in every stage)

# portable (the stages' default: the same floats on every x86 CPU, ~1.4x slower) | native
NUMERICS = os.environ.get("TINYHELEN_CPU_NUMERICS", "portable")

import torch  # noqa: E402
import yaml

from tinyhelen.core.io import iter_jsonl
from tinyhelen.eval.minimal_pairs import load_pairs
from tinyhelen.eval.scoring import score_texts
from tinyhelen.params import load_params  # noqa: E402
from tinyhelen.pretrain.config import ModelConfig  # noqa: E402
from tinyhelen.pretrain.models import build_model
from tinyhelen.tokens.tokenizer import train_bpe


def model_dims(dims: str) -> ModelConfig:
    """params.yaml's model section (`sample`), or with presets/paper.yaml's dims applied (`paper`)."""
    model = load_params("params.yaml").model.model_dump()
    preset = yaml.safe_load(Path("presets/paper.yaml").read_text())["model"] if dims == "paper" else {}
    for arch, changes in preset.items():
        model[arch].update(changes)
    return ModelConfig.model_validate(model)


def first_pairs(pairs, per_paradigm: int) -> list[str]:
    """Both sentences of the first `per_paradigm` pairs of every paradigm."""
    taken: dict[str, int] = {}
    out = []
    for pair in pairs:
        if taken.get(pair.paradigm, 0) < per_paradigm:
            taken[pair.paradigm] = taken.get(pair.paradigm, 0) + 1
            out += [pair.bad, pair.good]
    return out


def timed(model, tokenizer, texts, batch_size: int, share_prefixes: bool | None = None) -> tuple[list[float], float]:
    start = time.perf_counter()
    scores = score_texts(model, tokenizer, texts, batch_size=batch_size, share_prefixes=share_prefixes)
    return scores, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zorro", default="../shared/zorro")
    parser.add_argument(
        "--text",
        default="../shared/tinyhelen-data/leaner/10M/train/book0000.jsonl",
        help="release documents to train the tokenizers on",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ratio-pairs", type=int, default=13, help="pairs per paradigm for batched vs loop")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--limit-pairs", type=int, default=0, help="time the full run on this many pairs per paradigm (0 = all)"
    )
    parser.add_argument("--archs", nargs="+", choices=["llama", "bert"], default=["llama", "bert"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--dims",
        choices=["paper", "sample"],
        default="paper",
        help="the paper's ~14M models or the bundled sample's tiny ones",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    pairs = load_pairs(args.zorro)
    sentences = [s for p in pairs for s in (p.bad, p.good)]
    print(
        f"{len(sentences):,} sentences, {len(pairs):,} pairs, {len({p.paradigm for p in pairs})} paradigms; "
        f"{args.threads} threads, device {args.device}, batch {args.batch_size}, {args.dims} dims, "
        f"{NUMERICS} CPU numerics"
    )
    models = model_dims(args.dims)
    texts = [record["text"] for _, record in iter_jsonl(Path(args.text))]
    subset = first_pairs(pairs, args.ratio_pairs)
    for arch, family in (("llama", "causal"), ("bert", "bert")):
        if arch not in args.archs:
            continue
        tokenizer = train_bpe(texts, family, vocab_size=2000, min_frequency=2, model_max_length=1024)
        torch.manual_seed(0)
        ids = {"pad": tokenizer.pad_token_id, "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
        model = build_model(arch, models, len(tokenizer), ids).to(args.device).eval()
        params = sum(p.numel() for p in model.parameters())
        timed(model, tokenizer, subset[: args.batch_size], args.batch_size)  # warm-up: first-call costs untimed
        batched, t_batched = timed(model, tokenizer, subset, args.batch_size)
        single, t_single = timed(model, tokenizer, subset, 1, share_prefixes=False)
        gap = max(abs(a - b) for a, b in zip(batched, single, strict=False))
        rows = ""
        if arch == "llama":
            _, t_rows = timed(model, tokenizer, subset, args.batch_size, share_prefixes=False)
            rows = f", batched row by row {len(subset) / t_rows:,.1f}/s ({t_rows / t_batched:.2f}x slower)"
        print(
            f"{arch} ({params / 1e6:.1f}M params): {len(subset)} sentences batched {len(subset) / t_batched:,.1f}/s, "
            f"one at a time {len(subset) / t_single:,.1f}/s -> {t_single / t_batched:.1f}x{rows} "
            f"(max score gap {gap:.2e})"
        )
        sample = first_pairs(pairs, args.limit_pairs) if args.limit_pairs else sentences
        _, seconds = timed(model, tokenizer, sample, args.batch_size)
        total = seconds * len(sentences) / len(sample)
        what = "measured" if len(sample) == len(sentences) else f"extrapolated from {len(sample):,} sentences"
        print(
            f"{arch}: all {len(sentences):,} Zorro sentences in {total:,.1f} s = {total / 60:.2f} min ({what}; "
            f"{len(sample) / seconds:,.1f} sentences/s = {len(sample) / seconds / (len(subset) / t_single):.1f}x "
            "the one-at-a-time loop)"
        )


if __name__ == "__main__":
    main()
