"""Benchmark: our pre-training loop vs a `transformers.Trainer` run (the original's approach), same Llama
config, same packed data in the same order, same batch, same seed, same thread count.

    python bench/pretrain_vs_trainer.py                         # 14M paper Llama, 8 x block rows, 20 steps
    python bench/pretrain_vs_trainer.py --model sample --steps 40 --precision fp32 bf16

Runs, per precision, Trainer and our loop with the same settings (what the loop alone is worth), then our
loop with its fast CPU settings: bf16 autocast and torch.compile (`pretrain.precision=bf16`,
`pretrain.compile=on`). Throughput is steady-state: the first `--skip` steps of every run (warm-up, and
compiling, which is timed and printed apart) are left out, the same for all. Prints tokens/s, ratios to
Trainer at the same precision and to Trainer in fp32 (the original's setting), and the training and
validation loss after N steps (equal data and init, so equal losses mean equal work).

Reads data/packed/leaner-causal + data/tokenizers/causal when present; otherwise it packs the bundled sample
(data/sample, leaner text) into a temporary folder first. Run it on idle cores: other jobs on the same cores
distort every number.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyhelen.core.config import with_changes  # noqa: E402
from tinyhelen.core.runtime import load_tokenizer  # noqa: E402
from tinyhelen.core.tracking import NullLogger  # noqa: E402
from tinyhelen.params import load_params  # noqa: E402
from tinyhelen.preset import apply_preset, read_preset  # noqa: E402
from tinyhelen.pretrain.config import ModelConfig  # noqa: E402
from tinyhelen.pretrain.loop import evaluate, train_model  # noqa: E402
from tinyhelen.pretrain.models import build_model, count_parameters  # noqa: E402
from tinyhelen.pretrain.objectives import make_objective  # noqa: E402
from tinyhelen.tokens.shards import BatchOrder, open_split, read_pack_index, read_rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench")


def sample_pack(root: Path, block_size: int) -> tuple[Path, Path]:
    """Pack the bundled sample's leaner text (no pack stage needed)."""
    from tests.fixtures.tiny_packs import write_tiny_packs
    from tests.stages.test_pretrain_stage import sample_texts

    corpora = {"leaner": {s: sample_texts("leaner", s) for s in ("train", "validation")}}
    write_tiny_packs(root, corpora, block_size=block_size, vocab_size=2000, families=("causal",))
    return root / "packed" / "leaner-causal", root / "tokenizers" / "causal"


def model_config(which: str) -> ModelConfig:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    if which == "paper":
        raw["model"] = apply_preset(
            {"model": raw["model"]}, {"model": read_preset(REPO / "presets/paper.yaml")["model"]}
        )["model"]
    return ModelConfig.model_validate(raw["model"])


def steady(args, index, step_ends: list[float], start: float) -> dict:
    """Tokens/s over the steps after the first `args.skip` (and before the last, which our loop ends with an
    evaluation), and the seconds those first steps took."""
    step_ends = step_ends[:-1]
    skip = min(args.skip, len(step_ends) - 1)
    first = step_ends[skip - 1] if skip else start
    tokens = (len(step_ends) - skip) * args.batch_size * index.block_size
    return {"tokens_per_s": round(tokens / (step_ends[-1] - first), 1), "first_steps_s": round(first - start, 2)}


def run_ours(args, model_cfg, index, tokenizer, train, val, bf16: bool, work: Path, compiled: bool = False) -> dict:
    import torch

    params = load_params(REPO / "params.yaml")
    cfg = with_changes(
        params.pretrain,
        max_steps=args.steps,
        batch_size=args.batch_size,
        micro_batch_size=args.micro_batch_size,
        warmup_steps=args.warmup,
        lr_schedule="linear",
        log_every=1,
        eval_every=10**9,
        eval_batches=args.eval_batches,
        save_every=0,
        resume=False,
        run_dir=str(work / "ours"),
        device="cpu",
        precision="bf16" if bf16 else "fp32",
        compile="on" if compiled else "off",
        cpu_threads=args.threads,
    )
    torch.manual_seed(args.seed)
    model = build_model("llama", model_cfg, index.vocab_size, index.special_ids)
    objective = make_objective(
        "clm",
        tokenizer,
        index.special_ids,
        mlm_probability=0.15,
        plm_probability=1 / 6,
        max_span_length=5,
        block_size=index.block_size,
    )
    step_ends: list[float] = []
    start = time.perf_counter()
    result = train_model(
        model,
        objective,
        train,
        val,
        cfg,
        lr=args.lr,
        seed=args.seed,
        run_dir=work / "ours",
        tracker=NullLogger(),
        fingerprint_data={},
        on_step=lambda step: step_ends.append(time.perf_counter()),
    )
    return {
        **steady(args, index, step_ends, start),
        "train_loss": result.train_curve[-1]["loss"],
        "val_loss": result.metrics["val/loss"],
    }


def run_trainer(args, model_cfg, index, tokenizer, train, val, bf16: bool, work: Path) -> dict:
    import torch
    from torch.utils.data import Dataset, SequentialSampler
    from transformers import Trainer, TrainerCallback, TrainingArguments

    # The same rows in the same order as our loop draws them.
    order = BatchOrder(len(train), args.batch_size, args.seed)
    rows = np.concatenate([order.next_rows() for _ in range(args.steps)])

    class Rows(Dataset):
        def __len__(self):
            return len(rows)

        def __getitem__(self, i):
            ids = read_rows(train, rows[i : i + 1])[0]
            return {"input_ids": ids, "labels": ids.clone()}

    class InOrder(Trainer):
        def _get_train_sampler(self, *unused, **kwargs):
            return SequentialSampler(self.train_dataset)

    class Clock(TrainerCallback):
        losses: list = []
        step_ends: list = []

        def on_train_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            self.step_ends.append(time.perf_counter())

        def on_log(self, _args, _state, _control, logs=None, **k):
            if logs and "loss" in logs:
                self.losses.append(logs["loss"])

    torch.manual_seed(args.seed)
    model = build_model("llama", model_cfg, index.vocab_size, index.special_ids)
    training_args = TrainingArguments(
        output_dir=str(work / "trainer"),
        max_steps=args.steps,
        per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=args.batch_size // args.micro_batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        max_grad_norm=1.0,
        adam_beta1=0.9,
        adam_beta2=0.999,
        adam_epsilon=1e-8,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=args.seed,
        use_cpu=True,
        bf16=bf16,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    clock = Clock()
    InOrder(model=model, args=training_args, train_dataset=Rows(), callbacks=[clock]).train()
    objective = make_objective(
        "clm",
        tokenizer,
        index.special_ids,
        mlm_probability=0.15,
        plm_probability=1 / 6,
        max_span_length=5,
        block_size=index.block_size,
    )
    val_metrics = evaluate(
        model,
        objective,
        val,
        batch_size=8,
        max_batches=args.eval_batches,
        seed=args.seed,
        device=torch.device("cpu"),
        bf16=bf16,
    )
    return {
        **steady(args, index, clock.step_ends, clock.start),
        "train_loss": clock.losses[-1],
        "val_loss": val_metrics["val/loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        choices=["paper", "sample"],
        default="paper",
        help="Llama dims: the paper's 14M (presets/paper.yaml) or params.yaml's sample size",
    )
    parser.add_argument("--pack", default="data/packed/leaner-causal")
    parser.add_argument("--tokenizer", default="data/tokenizers/causal")
    parser.add_argument("--block-size", type=int, default=256, help="block size when packing the sample")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--micro-batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both (0 = torch default)")
    parser.add_argument("--eval-batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=65)
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"])
    parser.add_argument("--skip", type=int, default=3, help="first steps of each run left out of tokens/s")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled run (compiling takes ~1.5 min)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.environ.setdefault("TINYHELEN_TRACKING", "off")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-pretrain-"))
    pack, tok_dir = Path(args.pack), Path(args.tokenizer)
    if not (pack / "index.json").exists():
        print(f"{pack} not found: packing the bundled sample (leaner) at block {args.block_size}")
        pack, tok_dir = sample_pack(work / "sample", args.block_size)
    index = read_pack_index(pack)
    tokenizer = load_tokenizer(tok_dir)
    train, val = open_split(index, "train"), open_split(index, "validation")
    model_cfg = model_config(args.model)
    with torch.device("meta"):
        counts = count_parameters(build_model("llama", model_cfg, index.vocab_size, index.special_ids))
    print(
        f"Llama {args.model}: {counts['total']:,} params ({counts['non_embedding']:,} non-embedding); "
        f"{args.steps} steps x {args.batch_size} x {index.block_size} tokens; {torch.get_num_threads()} threads; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )

    from accelerate.state import AcceleratorState

    runs: dict[str, dict] = {}
    for precision in args.precision:
        bf16 = precision == "bf16"
        AcceleratorState._reset_state(True)  # Trainer and our loop each set up accelerate their own way
        runs[f"Trainer, {precision}"] = run_trainer(args, model_cfg, index, tokenizer, train, val, bf16, work)
        AcceleratorState._reset_state(True)
        runs[f"ours, {precision}"] = run_ours(args, model_cfg, index, tokenizer, train, val, bf16, work)
        print({k: runs[k] for k in (f"Trainer, {precision}", f"ours, {precision}")}, flush=True)
    if not args.no_compile:
        AcceleratorState._reset_state(True)
        runs["ours, bf16 + torch.compile"] = run_ours(
            args, model_cfg, index, tokenizer, train, val, True, work, compiled=True
        )
        print({"ours, bf16 + torch.compile": runs["ours, bf16 + torch.compile"]}, flush=True)

    baseline = runs.get("Trainer, fp32") or runs[f"Trainer, {args.precision[0]}"]
    print(
        f"\n{'run':27} | {'tok/s':>6} | {'vs Trainer, same precision':>26} | {'vs Trainer, fp32':>16} | "
        f"{'first steps s':>13} | {'loss@N':>7} | {'val loss':>8}"
    )
    for name, result in runs.items():
        precision = "bf16" if "bf16" in name else "fp32"
        same = runs.get(f"Trainer, {precision}", baseline)
        ratio_same = result["tokens_per_s"] / same["tokens_per_s"]
        print(
            f"{name:27} | {result['tokens_per_s']:6,.0f} | {ratio_same:25.2f}x | "
            f"{result['tokens_per_s'] / baseline['tokens_per_s']:15.2f}x | {result['first_steps_s']:13.1f} | "
            f"{result['train_loss']:7.4f} | {result['val_loss']:8.4f}"
        )
    best_name = max((n for n in runs if n.startswith("ours")), key=lambda n: runs[n]["tokens_per_s"])
    best = runs[best_name]
    print(
        f"\nfastest of ours ({best_name}) vs Trainer as the original ran it (fp32, eager): "
        f"{best['tokens_per_s'] / baseline['tokens_per_s']:.2f}x tokens/s (steady state, first {args.skip} "
        f"steps left out); val loss {best['val_loss']:.4f} vs {baseline['val_loss']:.4f} "
        f"(|difference| {abs(best['val_loss'] - baseline['val_loss']):.4f})"
    )
    print(
        f"load average after: {os.getloadavg()[0]:.2f}; all losses finite: "
        f"{all(math.isfinite(r['val_loss']) for r in runs.values())}"
    )


if __name__ == "__main__":
    main()
