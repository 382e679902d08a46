"""The fine-tuning loop and the learning-rate x seed grid over the Leaner-GLUE tasks.

One plain loop (house style): AdamW, linear warmup then linear decay, gradient clipping, validation every
`steps_per_epoch / evals_per_epoch` steps and at the last step, the best validation state kept in memory,
optional early stopping. The best state is then scored on every validation and test file of the task.
Each task is tokenised once (per tokenizer, so once per stage run) and reused by every LR and seed; batches
are dynamically padded, evaluation batches sorted by length.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import get_linear_schedule_with_warmup

from tinyhelen.core.errors import ConfigError
from tinyhelen.core.io import sha256_file
from tinyhelen.core.repro import seed_everything
from tinyhelen.core.runtime import bf16_autocast, cpu_threads, resolve_device
from tinyhelen.glue.aggregate import summarise_model
from tinyhelen.glue.config import GlueConfig
from tinyhelen.glue.data import (
    TASK_COLUMNS,
    EncodedSplit,
    EncodedTask,
    encode_task,
    ensure_pair_separator,
    load_task,
)
from tinyhelen.glue.metrics import compute_metrics
from tinyhelen.glue.model import BodySource, SequenceClassifier, load_body_source, load_tokenizer

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/glue/<model>.json` (`repro.pick` patterns): the GLUE average and each
#: task's test score; the full per-task accounting is `metrics.json` in the model's results folder.
HEADLINE_METRICS = ("model", "arch", "init", "seed", "step", "average", "scores.*.test.score.mean")


@dataclass
class RunResult:
    """One fine-tuning run (task, LR, seed): where it stopped and the scores of its best validation state."""

    task: str
    learning_rate: float
    seed: int
    steps: int
    best_step: int
    train_loss: float
    validation: dict[str, dict[str, float] | None]
    test: dict[str, dict[str, float] | None]
    curve: list[dict[str, float]]
    seconds: float
    train_examples_per_second: float
    stopped_early: bool


@dataclass
class GridResult:
    runs: list[RunResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    examples: dict[str, dict[str, int]] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)
    tokenise_seconds: float = 0.0


class Batcher:
    """Pads examples into tensors with the tokenizer's own padding side and pad id (dynamic padding)."""

    def __init__(self, tokenizer: Any, regression: bool) -> None:
        self.tokenizer, self.dtype = tokenizer, torch.float32 if regression else torch.long

    def __call__(self, items: list[tuple[dict[str, list[int]], float | int]]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.pad([features for features, _ in items], return_tensors="pt")
        batch["labels"] = torch.tensor([label for _, label in items], dtype=self.dtype)
        return dict(batch)


def _examples(split: EncodedSplit) -> list[tuple[dict[str, list[int]], float | int]]:
    return list(zip(split.features, split.labels, strict=True))


def _inputs(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}


@torch.no_grad()
def predict(
    model: SequenceClassifier,
    split: EncodedSplit,
    batcher: Batcher,
    batch_size: int,
    device: torch.device,
    precision: str,
) -> np.ndarray:
    """Predicted class ids (or scores, for regression) in the split's order; batches sorted by length."""
    model.eval()
    order = sorted(range(len(split.labels)), key=lambda i: len(split.features[i]["input_ids"]))
    examples = _examples(split)
    outputs = np.zeros(len(order), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = batcher([examples[i] for i in chunk])
        with bf16_autocast(device.type, precision == "bf16"):
            logits = model(**_inputs(batch, device)).float()
        values = logits[:, 0] if model.num_labels == 1 else logits.argmax(dim=-1)
        outputs[chunk] = values.cpu().numpy()
    return outputs if model.num_labels == 1 else outputs.astype(np.int64)


def evaluate(
    model: SequenceClassifier, task: str, split: EncodedSplit, batcher: Batcher, cfg: GlueConfig, device: torch.device
) -> dict[str, float]:
    predictions = predict(model, split, batcher, cfg.eval_batch_size, device, cfg.precision)
    return compute_metrics(task, predictions, split.labels)


def _optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def finetune_run(
    source: BodySource,
    encoded: EncodedTask,
    batcher: Batcher,
    lr: float,
    seed: int,
    cfg: GlueConfig,
    device: torch.device,
    tracker: Any = None,
    metric_prefix: str | None = None,
) -> RunResult:
    """Fine-tune one classifier on one task at one LR and seed; score its best validation state.

    Args:
        source: the body (pretrained weights, or a config for the from-scratch baseline).
        encoded: the tokenised task.
        batcher: pads examples for this tokenizer.
        lr: peak learning rate.
        seed: seeds the head (and a scratch body), dropout and the data order.
        cfg: the glue params section.
        device: where to train.
        tracker: a MetricLogger for the validation curve (optional).
        metric_prefix: put before the curve's metric names; default `<task>/lr<lr>/seed<seed>/`, "" when
            `tracker` is this run's own nested run (`run_tracker`).
    """
    task = encoded.task
    started = time.perf_counter()
    seed_everything(seed)
    model = source.build(encoded.num_labels, cfg.classifier_dropout).to(device)
    loader = DataLoader(
        _examples(encoded.train),
        batch_size=cfg.batch_size,
        shuffle=True,
        collate_fn=batcher,
        generator=torch.Generator().manual_seed(seed),
    )
    steps_per_epoch = len(loader)
    total = cfg.epochs[task] * steps_per_epoch
    total = min(total, cfg.max_steps) if cfg.max_steps else total
    eval_every = max(1, steps_per_epoch // cfg.evals_per_epoch)
    optimizer = _optimizer(model, lr, cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    select_column = TASK_COLUMNS[task][0][0]
    select_split = encoded.columns[select_column]["validation"]
    prefix = f"{task}/lr{lr:g}/seed{seed}/" if metric_prefix is None else metric_prefix

    step, seen, losses, curve = 0, 0, [], []
    best_score, best_step, best_state, best_validation, bad_evals = -math.inf, 0, None, None, 0
    stopped_early = False
    while step < total and not stopped_early:
        for batch in loader:
            model.train()
            labels = batch["labels"].to(device)
            with bf16_autocast(device.type, cfg.precision == "bf16"):
                logits = model(**_inputs(batch, device)).float()
            if encoded.num_labels == 1:
                loss = torch.nn.functional.mse_loss(logits[:, 0], labels)
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step, seen = step + 1, seen + len(labels)
            losses.append(loss.item())
            if step % eval_every == 0 or step == total:
                metrics = evaluate(model, task, select_split, batcher, cfg, device)
                curve.append({"step": step, "train_loss": float(np.mean(losses[-eval_every:])), **metrics})
                if tracker is not None:
                    tracker.log_metrics(
                        {f"{prefix}val/score": metrics["score"], f"{prefix}train/loss": curve[-1]["train_loss"]},
                        step=step,
                    )
                if metrics["score"] > best_score:
                    best_score, best_step, best_validation, bad_evals = metrics["score"], step, metrics, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad_evals += 1
                    stopped_early = bool(cfg.early_stopping_patience) and bad_evals >= cfg.early_stopping_patience
            if step >= total or stopped_early:
                break
    train_seconds = time.perf_counter() - started
    model.load_state_dict(best_state)
    validation: dict[str, dict[str, float] | None] = {}
    test: dict[str, dict[str, float] | None] = {}
    for column, splits in encoded.columns.items():
        if column == select_column:
            validation[column] = best_validation
        else:
            validation[column] = (
                evaluate(model, task, splits["validation"], batcher, cfg, device) if splits["validation"] else None
            )
        test[column] = evaluate(model, task, splits["test"], batcher, cfg, device) if splits["test"] else None
    return RunResult(
        task=task,
        learning_rate=lr,
        seed=seed,
        steps=step,
        best_step=best_step,
        train_loss=float(np.mean(losses)),
        validation=validation,
        test=test,
        curve=curve,
        seconds=time.perf_counter() - started,
        train_examples_per_second=seen / train_seconds,
        stopped_early=stopped_early,
    )


def run_grid(
    source: BodySource, tokenizer: Any, glue_dir: str | Path, cfg: GlueConfig, tracker: Any = None
) -> GridResult:
    """Fine-tune on every task in `cfg.tasks` over the LR x seed grid; skip tasks without train/validation.

    Returns:
        Every run, the skipped tasks with their reasons, example counts and truncation counts per task.
    """
    device = resolve_device(cfg.device, "glue.device")
    with cpu_threads(device, cfg.cpu_threads):
        return _run_grid(source, tokenizer, glue_dir, cfg, device, tracker)


def _run_grid(
    source: BodySource, tokenizer: Any, glue_dir: str | Path, cfg: GlueConfig, device: torch.device, tracker: Any
) -> GridResult:
    result = GridResult()
    tasks = {}
    for task in cfg.tasks:
        data = load_task(glue_dir, task, cfg.max_train_examples, cfg.max_eval_examples)
        if isinstance(data, str):
            log.warning("glue: skipping %s: %s", task, data)
            result.skipped[task] = data
            continue
        started = time.perf_counter()
        tasks[task] = encode_task(tokenizer, data, cfg.max_length)  # once per task, reused by every LR x seed
        result.tokenise_seconds += time.perf_counter() - started
        result.truncated[task] = tasks[task].truncated
        result.examples[task] = {
            "train": len(data.train),
            **{
                f"{column}/{kind}": len(records)
                for column, parts in data.columns.items()
                for kind, records in parts.items()
                if records
            },
        }
    grid = [(task, lr, seed) for task in tasks for lr in cfg.learning_rates for seed in cfg.seeds]
    log.info(
        "glue: %d runs (%d tasks x %d LRs x %d seeds) on %s",
        len(grid),
        len(tasks),
        len(cfg.learning_rates),
        len(cfg.seeds),
        device,
    )
    batchers = {task: Batcher(tokenizer, tasks[task].num_labels == 1) for task in tasks}
    for task, lr, seed in tqdm(grid, desc="glue", unit="run", disable=None):
        with run_tracker(tracker, task, lr, seed) as run_log:
            nested = run_log is not None and run_log is not tracker
            run = finetune_run(
                source,
                tasks[task],
                batchers[task],
                lr,
                seed,
                cfg,
                device,
                run_log,
                metric_prefix="" if nested else None,
            )
            if nested:
                run_log.log_metrics(
                    {
                        "best_step": run.best_step,
                        "steps": run.steps,
                        "train/loss": run.train_loss,
                        "validation": run.validation,
                        "test": run.test,
                    }
                )
        log.info(
            "%s lr=%g seed=%d: %d steps, best at %d, val %.4f, %.1fs",
            task,
            lr,
            seed,
            run.steps,
            run.best_step,
            run.validation[TASK_COLUMNS[task][0][0]]["score"],
            run.seconds,
        )
        result.runs.append(run)
    return result


@contextlib.contextmanager
def run_tracker(tracker: Any, task: str, lr: float, seed: int):
    """One fine-tuning run's own MLflow run, nested below the stage's (`<task>/lr<lr>/seed<seed>`), closed
    FINISHED or FAILED; the stage's logger itself when it cannot nest runs; None without a tracker."""
    if tracker is None or not hasattr(tracker, "child"):
        yield tracker
        return
    child = tracker.child(
        f"{task}/lr{lr:g}/seed{seed}", {"glue.task": task, "glue.learning_rate": lr, "glue.seed": seed}
    )
    child.log_params({"task": task, "learning_rate": lr, "seed": seed})
    try:
        yield child
    except BaseException:
        child.close(failed=True)
        raise
    child.close()


def run_records(result: GridResult) -> list[dict[str, Any]]:
    """The runs as plain dicts (for runs.jsonl)."""
    return [asdict(run) for run in result.runs]


def exported_step_dir(model_dir: str | Path, step: int) -> Path:
    """`models/<name>/step-<N>/`, the HF folder pretrain exported at step N.

    Raises:
        ConfigError: the model has no such export.
    """
    folder = Path(model_dir) / f"step-{step}"
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"{folder}: no exported step {step} (glue.step = {step}; pretrain exports only the steps "
            "in pretrain.export_steps)"
        )
    return folder


@dataclass
class ModelResult:
    metrics: dict[str, Any]
    runs: list[dict[str, Any]]
    inputs: dict[str, str]
    extra: dict[str, Any]


def glue_model(
    name: str,
    model_dir: str | Path,
    scratch: bool,
    glue_dir: str | Path,
    cfg: GlueConfig,
    tracker: Any = None,
    *,
    step: int | None = None,
    init_seed: int | None = None,
) -> ModelResult:
    """Fine-tune and score one model (or its from-scratch baseline) on Leaner-GLUE.

    Args:
        name: the model's name in the reports, `<arch>-<leaner|ori|scratch>[-s<seed>]`.
        model_dir: the pretrained model folder (model, tokenizer); a baseline takes only its config.
        scratch: build the body from the config with random weights instead of loading it.
        step: score the exported step `model_dir/step-<N>/` instead of the final model (not for baselines).
        init_seed: a baseline's body is drawn from this seed (its pre-training seed) in every run.
        glue_dir: the ingested GLUE files.
        cfg: the glue params section.
        tracker: a MetricLogger for curves (optional).

    Returns:
        The per-model metrics (see `aggregate.summarise_model`), every run, input hashes, and extra facts
        for meta.json (separator added, device, timings).
    """
    started = time.perf_counter()
    if step is not None and not scratch:
        model_dir = exported_step_dir(model_dir, step)
    tokenizer = load_tokenizer(model_dir)
    added_separator = ensure_pair_separator(tokenizer)
    source = load_body_source(model_dir, scratch, init_seed)
    result = run_grid(source, tokenizer, glue_dir, cfg, tracker)
    runs = run_records(result)
    metrics = summarise_model(name, cfg.tasks, runs, result.skipped, None if scratch else step)
    seconds = time.perf_counter() - started
    metrics["time"] = {
        "seconds": seconds,
        "tokenise_seconds": result.tokenise_seconds,
        "run_seconds": sum(run.seconds for run in result.runs),
    }
    model_dir, glue_dir = Path(model_dir), Path(glue_dir)
    model_files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name != "meta.json")
    if scratch:
        model_files = [p for p in model_files if p.name.startswith(("config", "tokenizer", "special_tokens"))]
    inputs = {str(p): sha256_file(p) for p in model_files}
    inputs.update(
        {str(p): sha256_file(p) for p in sorted(glue_dir.glob("*.jsonl")) if p.name.split("_", 1)[0] in cfg.tasks}
    )
    extra = {
        "model": name,
        "model_dir": str(model_dir),
        "init": "scratch" if scratch else "pretrained",
        "step": "final" if step is None or scratch else step,
        "init_seed": init_seed,
        "family": source.family,
        "model_type": source.config.model_type,
        "added_pair_separator": added_separator,
        "device": str(resolve_device(cfg.device, "glue.device")),
        "examples": result.examples,
        "truncated": result.truncated,
        "skipped": result.skipped,
    }
    return ModelResult(metrics, runs, inputs, extra)
