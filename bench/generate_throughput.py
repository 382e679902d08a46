"""Benchmark: Leaner-Eval generation batched (left-padded, KV cache) vs one question at a time; tokens/s of each,
and the time for all the questions with the paper's ~14M Llama (random weights; spec §4).

    python bench/generate_throughput.py [--eval ../shared/tinyhelen-data/leaner/eval] [--questions 32]
                                        [--batch-size 32] [--max-new-tokens 32] [--threads 1] [--all]

Questions come from `<eval>/all.jsonl` (the release's 1,594) or, when that is absent, the bundled sample's.
The tokenizer is a 2,000-entry causal byte-level BPE trained on the questions (the project's `train_bpe`);
the model is `LlamaForCausalLM` with the `model.llama` dims of presets/paper.yaml and random weights, fp32.
Both sides answer the same `--questions` questions with the same settings through
`tinyhelen.eval.generate.generate_answers` (greedy); only `batch_size` differs. Random weights rarely emit
end-of-text, so nearly every answer runs to `--max-new-tokens` on both sides. `--all` then times the batched
run over every question. Target: batched >= 5x the one-at-a-time tokens/s on CPU. CPU numerics are the stages'
(portable); `TINYHELEN_CPU_NUMERICS=native` times the machine's fastest kernels instead.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TINYHELEN_TRACKING", "off")

import tinyhelen  # noqa: E402, F401  (sets the CPU numerics before torch loads, as in every stage)

# portable (the stages' default: the same floats on every x86 CPU, ~1.4x slower) | native
NUMERICS = os.environ.get("TINYHELEN_CPU_NUMERICS", "portable")

import torch  # noqa: E402
import yaml

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.core.errors import DataError
from tinyhelen.eval.generate import generate_answers, load_template, render_prompt
from tinyhelen.params import load_params  # noqa: E402
from tinyhelen.tokens.tokenizer import train_bpe


def _questions(eval_dir: Path) -> tuple[list[str], str]:
    path = eval_dir / "all.jsonl"
    if not path.is_file():
        path = Path("data/sample/leaner/eval/all.jsonl")
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()], str(path)


def _timed(model, tokenizer, prompts, cfg) -> tuple[float, int]:
    started = time.perf_counter()
    generations = generate_answers(model, tokenizer, prompts, cfg)
    return time.perf_counter() - started, sum(g.tokens for g in generations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default="../shared/tinyhelen-data/leaner/eval")
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--all", action="store_true", help="also time the batched run over every question")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import LlamaConfig, LlamaForCausalLM

    params = load_params("params.yaml")
    questions, source = _questions(Path(args.eval))
    tokenizer = None
    for size in (2000, 1000, 500, 300):  # the sample's 42 questions have too few pairs for 2,000 entries
        try:
            tokenizer = train_bpe(questions, "causal", vocab_size=size, min_frequency=1, model_max_length=1024)
            break
        except DataError:
            continue
    dims = yaml.safe_load(Path("presets/paper.yaml").read_text())["model"]["llama"]
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            **{**params.model.llama.model_dump(), **dims},
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    ).eval()
    template = load_template(params.generate.template)
    prompts = [render_prompt(template, q) for q in questions]
    cfg = with_changes(params.generate, max_new_tokens=args.max_new_tokens, do_sample=False)
    sample = prompts[: args.questions]
    print(
        f"questions: {len(questions)} from {source}; vocabulary {len(tokenizer)}; "
        f"model {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
        f"params, {args.threads} thread(s), {args.max_new_tokens} new tokens, greedy, fp32, {NUMERICS} CPU numerics"
    )
    _timed(model, tokenizer, sample[:2], with_changes(cfg, batch_size=2))  # warm-up
    single_s, single_tokens = _timed(model, tokenizer, sample, with_changes(cfg, batch_size=1))
    batched_s, batched_tokens = _timed(model, tokenizer, sample, with_changes(cfg, batch_size=args.batch_size))
    single_rate, batched_rate = single_tokens / single_s, batched_tokens / batched_s
    print(
        f"one at a time : {len(sample)} questions, {single_tokens} tokens in {single_s:.1f} s = {single_rate:.0f} tok/s"
    )
    print(
        f"batched ({args.batch_size:>3}) : {len(sample)} questions, {batched_tokens} tokens in {batched_s:.1f} s = "
        f"{batched_rate:.0f} tok/s"
    )
    print(f"speed-up      : {batched_rate / single_rate:.1f}x (target >= 5x)")
    if args.all:
        all_s, all_tokens = _timed(model, tokenizer, prompts, with_changes(cfg, batch_size=args.batch_size))
        print(
            f"all {len(prompts)} questions batched: {all_tokens} tokens in {all_s:.0f} s = {all_tokens / all_s:.0f} "
            f"tok/s ({all_s / 60:.1f} min)"
        )
    else:
        estimate = len(prompts) * args.max_new_tokens / batched_rate
        print(f"all {len(prompts)} questions batched (estimated from the rate above): {estimate / 60:.1f} min")


if __name__ == "__main__":
    main()
