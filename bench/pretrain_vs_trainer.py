"""Benchmark: our pre-training loop vs a `transformers.Trainer` run (the original's approach), same Llama
config, same packed data in the same order, same batch, same seed, same thread count.

    python bench/pretrain_vs_trainer.py                         # 14M paper Llama, 8 x block rows, 20 steps
    python bench/pretrain_vs_trainer.py --model sample --steps 40 --precision fp32 bf16

Prints tokens/s of each and their ratio, and the training and validation loss after N steps of each
(equal data and init, so equal losses mean equal work). Reads data/packed/leaner-causal +
data/tokenizers/causal when present; otherwise it packs the bundled sample (data/sample, leaner text) into a
temporary folder first. Run it on idle cores: other jobs on the same cores distort every number.
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

from tinyhelen.config import ModelConfig, load_params, with_changes  # noqa: E402
from tinyhelen.models import build_model, count_parameters  # noqa: E402
from tinyhelen.objectives import make_objective  # noqa: E402
from tinyhelen.packed import BatchOrder, open_split, read_pack_index, read_rows  # noqa: E402
from tinyhelen.pretrain import load_tokenizer  # noqa: E402
from tinyhelen.preset import apply_preset, read_preset  # noqa: E402
from tinyhelen.tracking import NullLogger  # noqa: E402
from tinyhelen.train import evaluate, train_model  # noqa: E402

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
        raw["model"] = apply_preset({"model": raw["model"]}, {"model": read_preset(REPO / "presets/paper.yaml")["model"]})["model"]
    return ModelConfig.model_validate(raw["model"])


def run_ours(args, model_cfg, index, tokenizer, train, val, bf16: bool, work: Path) -> dict:
    import torch

    params = load_params(REPO / "params.yaml")
    cfg = with_changes(params.pretrain, max_steps=args.steps, batch_size=args.batch_size,
                       micro_batch_size=args.micro_batch_size, warmup_steps=args.warmup, lr_schedule="linear",
                       log_every=1, eval_every=10**9, eval_batches=args.eval_batches, save_every=0, resume=False,
                       run_dir=str(work / "ours"), device="cpu", precision="bf16" if bf16 else "fp32",
                       compile="off", cpu_threads=args.threads)
    torch.manual_seed(args.seed)
    model = build_model("llama", model_cfg, index.vocab_size, index.special_ids)
    objective = make_objective("clm", tokenizer, index.special_ids, mlm_probability=0.15, plm_probability=1 / 6,
                               max_span_length=5, block_size=index.block_size)
    result = train_model(model, objective, train, val, cfg, lr=args.lr, seed=args.seed, run_dir=work / "ours",
                         tracker=NullLogger(), fingerprint_data={})
    return {"tokens_per_s": result.metrics["tokens_per_s"], "train_loss": result.train_curve[-1]["loss"],
            "val_loss": result.metrics["val/loss"], "seconds": result.metrics["train_time_s"]}


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

        def on_train_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_train_end(self, *a, **k):
            self.seconds = time.perf_counter() - self.start

        def on_log(self, _args, _state, _control, logs=None, **k):
            if logs and "loss" in logs:
                self.losses.append(logs["loss"])

    torch.manual_seed(args.seed)
    model = build_model("llama", model_cfg, index.vocab_size, index.special_ids)
    training_args = TrainingArguments(
        output_dir=str(work / "trainer"), max_steps=args.steps, per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=args.batch_size // args.micro_batch_size, learning_rate=args.lr,
        warmup_steps=args.warmup, lr_scheduler_type="linear", weight_decay=0.0, max_grad_norm=1.0,
        adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, logging_steps=1, save_strategy="no",
        eval_strategy="no", report_to=[], seed=args.seed, use_cpu=True, bf16=bf16, dataloader_num_workers=0,
        disable_tqdm=True)
    clock = Clock()
    InOrder(model=model, args=training_args, train_dataset=Rows(), callbacks=[clock]).train()
    objective = make_objective("clm", tokenizer, index.special_ids, mlm_probability=0.15, plm_probability=1 / 6,
                               max_span_length=5, block_size=index.block_size)
    val_metrics = evaluate(model, objective, val, batch_size=8, max_batches=args.eval_batches, seed=args.seed,
                           device=torch.device("cpu"), bf16=bf16)
    tokens = args.steps * args.batch_size * index.block_size
    return {"tokens_per_s": round(tokens / clock.seconds, 1), "train_loss": clock.losses[-1],
            "val_loss": val_metrics["val/loss"], "seconds": round(clock.seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["paper", "sample"], default="paper",
                        help="Llama dims: the paper's 14M (presets/paper.yaml) or params.yaml's sample size")
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
    print(f"Llama {args.model}: {counts['total']:,} params ({counts['non_embedding']:,} non-embedding); "
          f"{args.steps} steps x {args.batch_size} x {index.block_size} tokens; {torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    rows = []
    from accelerate.state import AcceleratorState

    for precision in args.precision:
        bf16 = precision == "bf16"
        AcceleratorState._reset_state(True)  # Trainer and our loop each set up accelerate their own way
        trainer = run_trainer(args, model_cfg, index, tokenizer, train, val, bf16, work)
        print(f"Trainer {precision}: {trainer}", flush=True)
        AcceleratorState._reset_state(True)
        ours = run_ours(args, model_cfg, index, tokenizer, train, val, bf16, work)
        print(f"ours    {precision}: {ours}", flush=True)
        rows.append((precision, trainer, ours))
    fp32_trainer = next((t for p, t, _ in rows if p == "fp32"), None)
    print(f"\n{'precision':9} | {'Trainer tok/s':>13} | {'ours tok/s':>10} | {'ratio':>5} | "
          f"{'Trainer loss@N':>14} | {'ours loss@N':>11} | {'Trainer val':>11} | {'ours val':>8}")
    for precision, trainer, ours in rows:
        print(f"{precision:9} | {trainer['tokens_per_s']:13,.0f} | {ours['tokens_per_s']:10,.0f} | "
              f"{ours['tokens_per_s'] / trainer['tokens_per_s']:5.2f} | {trainer['train_loss']:14.4f} | "
              f"{ours['train_loss']:11.4f} | {trainer['val_loss']:11.4f} | {ours['val_loss']:8.4f}")
    if fp32_trainer:
        for precision, _, ours in rows:
            if precision != "fp32":
                print(f"ours {precision} vs Trainer fp32 (the original's setting): "
                      f"{ours['tokens_per_s'] / fp32_trainer['tokens_per_s']:.2f}x tokens/s, val loss "
                      f"{ours['val_loss']:.4f} vs {fp32_trainer['val_loss']:.4f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}; math.isfinite check: "
          f"{all(math.isfinite(r[2]['val_loss']) for r in rows)}")


if __name__ == "__main__":
    main()
