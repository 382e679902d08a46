"""GPU throughput of the pre-training loop: tokens/s and model FLOPs utilisation (MFU).

    python bench/gpu_throughput.py --arch llama                  # 14M paper Llama, block 1024, bf16 + compile
    python bench/gpu_throughput.py --arch mamba                  # Mamba-2 + MLP with mamba-ssm kernels
    python bench/gpu_throughput.py --arch mamba --no-kernels     # the same on the pure-torch path

Uses the paper preset's model dims (presets/paper.yaml) on random tokens (a 2,000-token vocabulary), runs
`--warmup` untimed optimizer steps (compilation, autotuning), then times `--steps` steps of `--micro-batch-size`
sequences through the same loop code as the stage (bf16 autocast, fused AdamW, torch.compile, SDPA).
MFU = achieved model FLOPs / the GPU's dense bf16 peak (`--peak-tflops`, default 989 = H100/H200 SXM).
Model FLOPs per token: 6 x non-embedding params + 6 x vocab x hidden (the LM head) + attention
12 x layers x hidden x seq (Llama; Mamba's scan is counted in its params only, a slight underestimate).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["llama", "mamba", "bert"], default="llama")
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--micro-batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-kernels", action="store_true", help="block mamba-ssm / causal-conv1d (torch path)")
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    args = parser.parse_args()
    if args.no_kernels:  # before transformers looks for them
        sys.modules["mamba_ssm"] = None
        sys.modules["causal_conv1d"] = None

    import numpy as np
    import torch
    import yaml

    from tinyhelen.core.config import with_changes  # noqa: E402
    from tinyhelen.core.tracking import NullLogger
    from tinyhelen.params import load_params  # noqa: E402
    from tinyhelen.preset import apply_preset, read_preset
    from tinyhelen.pretrain.config import ModelConfig  # noqa: E402
    from tinyhelen.pretrain.loop import train_model
    from tinyhelen.pretrain.models import build_model, count_parameters
    from tinyhelen.pretrain.objectives import Objective

    if not torch.cuda.is_available():
        sys.exit("no CUDA device: this benchmark measures GPU throughput")
    repo = Path(__file__).resolve().parents[1]
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    model_raw = apply_preset({"model": raw["model"]}, {"model": read_preset(repo / "presets/paper.yaml")["model"]})
    model_cfg = ModelConfig.model_validate(model_raw["model"])
    vocab = 2000
    rng = np.random.default_rng(0)
    rows = (args.steps + args.warmup) * args.micro_batch_size
    blocks = rng.integers(5, vocab, size=(rows, args.block_size), dtype=np.uint16)
    params = load_params(repo / "params.yaml")

    def run(steps: int, run_dir: str) -> dict:
        cfg = with_changes(
            params.pretrain,
            max_steps=steps,
            batch_size=args.micro_batch_size,
            micro_batch_size=args.micro_batch_size,
            warmup_steps=0,
            log_every=max(1, steps),
            eval_every=10**9,
            eval_batches=1,
            save_every=0,
            resume=False,
            run_dir=run_dir,
            device="cuda",
            precision="bf16",
            compile="off" if args.no_compile else "on",
        )
        torch.manual_seed(0)
        model = build_model(args.arch, model_cfg, vocab, {"pad": 0, "bos": 1, "eos": 2})
        counts = count_parameters(model)
        result = train_model(
            model,
            Objective("clm", None, (0, 1, 2)),
            blocks,
            blocks[:8],
            cfg,
            lr=5e-4,
            seed=0,
            run_dir=run_dir,
            tracker=NullLogger(),
            fingerprint_data={},
        )
        return {**result.metrics, **counts}

    # Warm-up run (compile, autotune) then the timed run; each builds a fresh model through the same path.
    run(args.warmup, "/tmp/bench-gpu-warmup")
    torch.cuda.synchronize()
    start = time.perf_counter()
    metrics = run(args.steps, "/tmp/bench-gpu")
    torch.cuda.synchronize()
    tokens_per_s = metrics["tokens_per_s"]
    dims = getattr(model_cfg, args.arch)
    hidden, layers = dims.hidden_size, dims.num_hidden_layers
    flops_per_token = 6 * metrics["non_embedding"] + 6 * vocab * hidden
    if args.arch in ("llama", "bert"):
        flops_per_token += 12 * layers * hidden * args.block_size
    mfu = tokens_per_s * flops_per_token / (args.peak_tflops * 1e12)
    print(
        f"{args.arch} ({metrics['non_embedding']:,} non-embedding params) on {torch.cuda.get_device_name()}: "
        f"block {args.block_size}, micro-batch {args.micro_batch_size}, bf16, compile "
        f"{'off' if args.no_compile else 'on'}, kernels {'off' if args.no_kernels else 'as installed'}"
    )
    print(
        f"tokens/s {tokens_per_s:,.0f} | MFU {mfu:.1%} | final loss {metrics['train/loss']:.3f} | "
        f"timed run incl. compile {time.perf_counter() - start:.1f} s | peak memory "
        f"{torch.cuda.max_memory_allocated() / 2**30:.1f} GiB"
    )


if __name__ == "__main__":
    main()
