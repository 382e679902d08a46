"""The one plain training loop for every objective (CLM, MLM, PLM), on CPU or one or more GPUs.

    result = train_model(model, objective, train_blocks, val_blocks, cfg, lr=5e-3, seed=65,
                         run_dir="runs/pretrain/llama-leaner", tracker=tracker, fingerprint_data={...})

Per optimizer step: one global batch of `batch_size` packed rows, in a shuffled order that is resumable
exactly (`packed.BatchOrder`); each process takes its share and runs `micro_batch_size` rows per forward,
accumulating gradients (DDP syncs only on the last micro-batch); then grad clipping, AdamW, the LR schedule.
Every `log_every` steps one line (step/total, loss, lr, tokens/s, elapsed) and a curve row; every `eval_every`
steps validation loss, perplexity and token accuracy; every `save_every` steps a checkpoint holding model,
optimizer, scheduler, RNG states and the data position.

Multi-process (DDP) runs go through accelerate: `accelerate launch --num_processes N -m stages.pretrain ...`
(gloo on CPU, NCCL on GPUs). On CUDA, bf16 autocast and torch.compile follow `precision` / `compile`; Llama and
BERT use SDPA attention (transformers' default), Mamba the mamba-ssm kernels when installed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tinyhelen.core.errors import ConfigError
from tinyhelen.core.log import note_kept
from tinyhelen.core.runtime import bf16_autocast, resolve_device
from tinyhelen.core.tracking import MetricLogger
from tinyhelen.pretrain.checkpoint import (
    find_resumable,
    fingerprint,
    load_checkpoint,
    load_start,
    rng_state,
    save_checkpoint,
)
from tinyhelen.pretrain.config import PretrainConfig
from tinyhelen.pretrain.objectives import Objective
from tinyhelen.tokens.shards import BatchOrder, read_rows

log = logging.getLogger(__name__)

# Fields that change how a run is watched or stored, not what it computes: they stay out of the fingerprint,
# so changing them does not prevent resuming.
_NOT_FINGERPRINTED = {
    "archs",
    "corpora",
    "lr",
    "resume",
    "run_dir",
    "save_every",
    "keep_checkpoints",
    "log_every",
    "eval_every",
    "eval_batches",
    "eval_batch_size",
    "seeds",
    "export_steps",
}


class DataSchedule(Protocol):
    """A plan that changes the training rows during a run (the curriculum: `tinyhelen.curriculum.schedule`).

    The loop trains on `blocks()` in a `BatchOrder` seeded with `order_seed()`; after every optimizer step (and
    its evaluation, if one was due) it calls `update`, and when that returns True it switches to the new
    `blocks()` with a fresh order. The optimizer and LR schedule carry on unchanged. `state_dict()` goes into
    every checkpoint, so a resumed run continues the schedule exactly.
    """

    def blocks(self) -> np.ndarray: ...

    def order_seed(self) -> int: ...

    def update(self, step: int, *, order: BatchOrder, val: dict[str, float] | None, model) -> bool: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def get_lr(step: int, *, peak: float, warmup_steps: int, max_steps: int, schedule: str) -> float:
    """Learning rate for the update after `step` updates: linear warmup, then linear/cosine decay to 0."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    if schedule == "constant":
        return peak
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    progress = min(1.0, progress)
    if schedule == "linear":
        return peak * (1.0 - progress)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainResult:
    """What a finished run hands back."""

    metrics: dict[str, float]
    train_curve: list[dict[str, float]] = field(default_factory=list)
    val_curve: list[dict[str, float]] = field(default_factory=list)
    is_main_process: bool = True
    started_from: dict[str, Any] | None = None
    """`pretrain.resume_from` when the run started from it: path, kind (checkpoint | weights) and step."""


def resolve_runtime(cfg: PretrainConfig) -> dict[str, Any]:
    """Device, autocast and compile choices from `device`, `precision` and `compile`."""
    use_cuda = resolve_device(cfg.device, "pretrain.device").type == "cuda"
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and use_cuda)
    compile_model = cfg.compile == "on" or (cfg.compile == "auto" and use_cuda)
    return {"cpu": not use_cuda, "bf16": bf16, "compile": compile_model}


def make_accelerator(cpu: bool):
    """The accelerate engine: process group (gloo on CPU, NCCL on GPUs), device placement, DDP wrapping.

    Autocast is done by the loop itself (`torch.autocast`), so the engine is created without mixed precision.
    """
    from accelerate import Accelerator

    return Accelerator(cpu=cpu, mixed_precision="no")


def _to_device(batch: dict[str, Any], device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def evaluate(
    model,
    objective: Objective,
    blocks: np.ndarray,
    *,
    batch_size: int,
    max_batches: int,
    seed: int,
    device,
    bf16: bool,
    rank: int = 0,
    world_size: int = 1,
    reduce: Callable | None = None,
) -> dict[str, float]:
    """Validation loss (token-weighted), perplexity and token accuracy over fixed validation rows.

    The masks of mlm/plm are drawn from a generator seeded with `seed`, so every evaluation scores the same
    inputs and the training RNG stream is left untouched.
    """
    import torch

    num_batches = math.ceil(len(blocks) / batch_size)
    if max_batches:
        num_batches = min(num_batches, max_batches)
    totals = torch.zeros(3, dtype=torch.float64)  # loss * tokens, correct, tokens
    was_training = model.training
    model.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + rank)
        for number in range(rank, num_batches, world_size):
            rows = np.arange(number * batch_size, min(len(blocks), (number + 1) * batch_size))
            batch = objective.make_batch(read_rows(blocks, rows))
            batch = _to_device(batch, device)
            with bf16_autocast(device.type, bf16):
                out = model(**batch)
            correct, counted = objective.accuracy_counts(out.logits.float(), batch["labels"])
            totals += torch.tensor([float(out.loss) * counted, correct, counted], dtype=torch.float64)
    model.train(was_training)
    if reduce is not None:
        totals = reduce(totals.to(device)).cpu()
    loss_sum, correct, counted = totals.tolist()
    loss = loss_sum / max(counted, 1.0)
    return {
        "val/loss": loss,
        "val/perplexity": math.exp(min(loss, 50.0)),
        "val/accuracy": correct / max(counted, 1.0),
        "val/tokens": counted,
    }


def _format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train_model(
    model,
    objective: Objective,
    train_blocks: np.ndarray,
    val_blocks: np.ndarray,
    cfg: PretrainConfig,
    *,
    lr: float,
    seed: int,
    run_dir: str | Path,
    tracker: MetricLogger,
    fingerprint_data: dict[str, Any],
    accelerator=None,
    on_step: Callable[[int], None] | None = None,
    data_schedule: DataSchedule | None = None,
) -> TrainResult:
    """Train `model` for `cfg.max_steps` optimizer steps; resume from `run_dir` when allowed and possible.

    Args:
        model: a freshly built transformers model (same init on every process).
        objective: how rows become batches (`objectives.make_objective`).
        train_blocks, val_blocks: [rows, block_size] uint16 arrays (memmaps) of packed tokens, or any row source
            with that `shape` whose rows (indexed by row numbers) `objective.make_batch` understands (e.g. the
            instruction rows of `tinyhelen.instruct.tune`, with prompt and padding labels set to -100).
        cfg: the `pretrain` params section.
        lr: the peak learning rate for this architecture.
        seed: the run seed (data order, masks).
        run_dir: checkpoints go here (git-ignored).
        tracker: step curves and final metrics go here (the main process logs, the others get a NullLogger).
        fingerprint_data: what else identifies the run (model config, data index) for safe resuming.
        accelerator: an accelerate `Accelerator` (made from `cfg` when None).
        on_step: called with the step number after each optimizer step (tests use it to interrupt a run).
        data_schedule: changes the training rows during the run (then `train_blocks` is ignored).

    Returns:
        The final metrics and the curves; the model holds the trained weights.
    """
    import torch

    runtime = resolve_runtime(cfg)
    accelerator = accelerator or make_accelerator(runtime["cpu"])
    rank, world = accelerator.process_index, accelerator.num_processes
    device = accelerator.device
    per_process, remainder = divmod(cfg.batch_size, world)
    if remainder or per_process % cfg.micro_batch_size:
        raise ConfigError(
            f"pretrain.batch_size ({cfg.batch_size}) must be a multiple of pretrain.micro_batch_size "
            f"({cfg.micro_batch_size}) x processes ({world})"
        )
    accumulation = per_process // cfg.micro_batch_size
    if data_schedule is not None:
        train_blocks = data_schedule.blocks()
    block_size = train_blocks.shape[1]
    log.info(
        "process %d of %d on %s: %d micro-batch(es) of %d sequences per step, bf16 autocast %s, compile %s",
        rank + 1,
        world,
        device,
        accumulation,
        cfg.micro_batch_size,
        "on" if runtime["bf16"] else "off",
        "on" if runtime["compile"] else "off",
    )
    if device.type == "cpu" and cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=lr,
        betas=(cfg.adam_beta1, cfg.adam_beta2),
        eps=cfg.adam_epsilon,
        weight_decay=cfg.weight_decay,
        fused=True,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: get_lr(
            step, peak=1.0, warmup_steps=cfg.warmup_steps, max_steps=cfg.max_steps, schedule=cfg.lr_schedule
        ),
    )
    order = BatchOrder(len(train_blocks), cfg.batch_size, data_schedule.order_seed() if data_schedule else seed)

    run_fingerprint = fingerprint(
        {
            "pretrain": {k: v for k, v in cfg.model_dump(mode="json").items() if k not in _NOT_FINGERPRINTED},
            "lr": lr,
            "seed": seed,
            "world_size": world,
            "runtime": runtime,
            **fingerprint_data,
        }
    )
    state: dict[str, Any] = {
        "train_curve": [],
        "val_curve": [],
        "elapsed": 0.0,
        "train_time": 0.0,
        "tokens_seen": 0,
        "interval_loss": 0.0,
        "interval_steps": 0,
        "last_val": {},
    }
    start_step = 0
    resume_from = find_resumable(run_dir, run_fingerprint) if cfg.resume else None
    if resume_from is not None:
        saved = load_checkpoint(resume_from, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank)
        if data_schedule is not None:
            data_schedule.load_state_dict(saved["schedule"])
            train_blocks = data_schedule.blocks()
            order = BatchOrder(len(train_blocks), cfg.batch_size, data_schedule.order_seed())
        order.load_state_dict(saved["data"])
        start_step = saved["step"]
        state.update({k: saved[k] for k in state})
        log.info("resumed from %s at step %d", resume_from, start_step)
    elif rank:
        torch.manual_seed(seed + rank)  # different masks/dropout per process, same for every rerun
    if resume_from is None:
        started_from = _start_from(cfg, model, optimizer, scheduler, order, state, rank)
        start_step = started_from["step"] if started_from else start_step
    else:  # a branched run resumed from its own checkpoint still says where it started
        started_from = _describe_start(cfg.resume_from) if cfg.resume_from else None

    train_module = torch.compile(model) if runtime["compile"] else model
    wrapped = accelerator.prepare_model(train_module) if world > 1 else train_module
    reduce = (lambda t: accelerator.reduce(t, reduction="sum")) if world > 1 else None

    def run_eval(step: int) -> dict[str, float]:
        metrics = evaluate(
            model,
            objective,
            val_blocks,
            batch_size=cfg.eval_batch_size,
            max_batches=cfg.eval_batches,
            seed=seed,
            device=device,
            bf16=runtime["bf16"],
            rank=rank,
            world_size=world,
            reduce=reduce,
        )
        state["last_val"] = metrics
        state["val_curve"].append(
            {
                "step": step,
                "tokens": state["tokens_seen"],
                **{k.split("/")[1]: metrics[k] for k in ("val/loss", "val/accuracy")},
            }
        )
        tracker.log_metrics(metrics, step=step)
        log.info(
            "eval step %d | val loss %.4f | ppl %.2f | acc %.4f",
            step,
            metrics["val/loss"],
            metrics["val/perplexity"],
            metrics["val/accuracy"],
        )
        return metrics

    from tqdm.auto import tqdm

    progress = tqdm(
        total=cfg.max_steps,
        initial=start_step,
        desc=f"train {Path(run_dir).name}",
        disable=not accelerator.is_main_process,
        unit="step",
        dynamic_ncols=True,
    )
    wall_start = time.perf_counter() - state["elapsed"]
    interval_start, interval_tokens = time.perf_counter(), 0
    interval_loss = torch.tensor(state["interval_loss"], dtype=torch.float64, device=device)
    wrapped.train()
    for step in range(start_step + 1, cfg.max_steps + 1):
        step_start = time.perf_counter()
        rows = order.next_rows()[rank * per_process : (rank + 1) * per_process]
        step_loss = torch.zeros((), dtype=torch.float64, device=device)
        for micro in range(accumulation):
            ids = read_rows(train_blocks, rows[micro * cfg.micro_batch_size : (micro + 1) * cfg.micro_batch_size])
            batch = _to_device(objective.make_batch(ids), device)
            is_last = micro == accumulation - 1
            sync = contextlib.nullcontext() if (is_last or world == 1) else accelerator.no_sync(wrapped)
            with sync:
                with bf16_autocast(device.type, runtime["bf16"]):
                    loss = wrapped(**batch).loss
                (loss / accumulation).backward()
            step_loss += loss.detach().double() / accumulation
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        interval_loss += step_loss
        state["interval_steps"] += 1
        state["tokens_seen"] += cfg.batch_size * block_size
        interval_tokens += cfg.batch_size * block_size
        state["train_time"] += time.perf_counter() - step_start
        progress.update(1)

        if step % cfg.log_every == 0 or step == cfg.max_steps:
            total = reduce(interval_loss.clone()) / world if reduce else interval_loss
            mean_loss = float(total) / state["interval_steps"]
            now = time.perf_counter()
            tokens_per_s = interval_tokens / max(now - interval_start, 1e-9)
            current_lr = scheduler.get_last_lr()[0]
            state["train_curve"].append(
                {"step": step, "tokens": state["tokens_seen"], "loss": mean_loss, "lr": current_lr}
            )
            tracker.log_metrics(
                {
                    "train/loss": mean_loss,
                    "train/lr": current_lr,
                    "train/tokens_per_s": tokens_per_s,
                    "train/tokens": state["tokens_seen"],
                },
                step=step,
            )
            log.info(
                "step %05d/%05d | loss %.4f | lr %.2e | tok/s %s | elapsed %s",
                step,
                cfg.max_steps,
                mean_loss,
                current_lr,
                f"{tokens_per_s:,.0f}",
                _format_elapsed(now - wall_start),
            )
            progress.set_postfix(loss=f"{mean_loss:.3f}")
            interval_loss.zero_()
            state["interval_steps"] = 0
            interval_start, interval_tokens = now, 0
        val = None
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            val = run_eval(step)
            interval_start = time.perf_counter()  # evaluation time is not training throughput
        if data_schedule is not None and data_schedule.update(step, order=order, val=val, model=model):
            train_blocks = data_schedule.blocks()
            order = BatchOrder(len(train_blocks), cfg.batch_size, data_schedule.order_seed())
        if cfg.save_every and step % cfg.save_every == 0 and step < cfg.max_steps:
            state["elapsed"] = time.perf_counter() - wall_start
            state["interval_loss"] = float(interval_loss)
            rng_states = _gather(accelerator, rng_state(), world)
            if accelerator.is_main_process:
                save_checkpoint(
                    run_dir,
                    step,
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    rng_states=rng_states,
                    keep=cfg.keep_checkpoints,
                    state={
                        "fingerprint": run_fingerprint,
                        "data": order.state_dict(),
                        **state,
                        **({"schedule": data_schedule.state_dict()} if data_schedule else {}),
                    },
                )
                note_kept(
                    f"the checkpoint of step {step} of {cfg.max_steps} in {run_dir} (a re-run with "
                    "pretrain.resume: true continues from it)"
                )
            accelerator.wait_for_everyone()
            interval_start = time.perf_counter()
        if on_step is not None:
            on_step(step)
    progress.close()

    wall = time.perf_counter() - wall_start
    val = state["last_val"]
    metrics = {
        **val,
        "train/loss": state["train_curve"][-1]["loss"] if state["train_curve"] else float("nan"),
        "steps": cfg.max_steps,
        "processes": world,
        "tokens_seen": state["tokens_seen"],
        "wall_time_s": round(wall, 3),
        "train_time_s": round(state["train_time"], 3),
        "tokens_per_s": round(state["tokens_seen"] / max(state["train_time"], 1e-9), 1),
    }
    return TrainResult(metrics, state["train_curve"], state["val_curve"], accelerator.is_main_process, started_from)


def _start_from(
    cfg: PretrainConfig, model, optimizer, scheduler, order: BatchOrder, state: dict[str, Any], rank: int
) -> dict[str, Any] | None:
    """Load `cfg.resume_from` (a run's checkpoint: its loop state too; a model folder: weights only)."""
    if not cfg.resume_from:
        return None
    saved = load_start(cfg.resume_from, model=model, optimizer=optimizer, scheduler=scheduler, rank=rank)
    if saved is None:
        log.info("starting from the weights of %s", cfg.resume_from)
        return {"path": cfg.resume_from, "kind": "weights", "step": 0}
    if saved["step"] >= cfg.max_steps:
        raise ConfigError(
            f"pretrain.resume_from={cfg.resume_from} is at step {saved['step']}: pretrain.max_steps "
            f"({cfg.max_steps}) must be larger to train on from it"
        )
    order.load_state_dict(saved["data"])
    state.update({k: saved[k] for k in state})
    log.info("continuing %s from step %d", cfg.resume_from, saved["step"])
    return {"path": cfg.resume_from, "kind": "checkpoint", "step": saved["step"]}


def _describe_start(path: str) -> dict[str, Any]:
    state = Path(path) / "state.json"
    if state.is_file():
        import json

        return {"path": path, "kind": "checkpoint", "step": json.loads(state.read_text())["step"]}
    return {"path": path, "kind": "weights", "step": 0}


def _gather(accelerator, obj: Any, world: int) -> list[Any]:
    """One object per process, in rank order (every process gets the list)."""
    if world == 1:
        return [obj]
    from accelerate.utils import gather_object

    return gather_object([obj])
