"""Instruction-tune one pretrained causal model on one instruction variant, with the pretrain loop.

    result = tune("llama", "leaner", "ori", params.instruct, params.pretrain, params.seed, models_root="models",
                  data_root="data/instruct",
                  out_dir="models/instruct/llama-leaner-s65-ori", tracker=tracker)

Start weights: `<models_root>/<arch>-<corpus>-s<instruct.pretrain_seed>/` (or its exported `step-<N>/` with
`instruct.pretrain_step: N`), with the tokenizer saved beside them. Data: `<data_root>/<variant>/{train,
validation}.jsonl` from `instruct_data`. Each record becomes `prompt + response + end-of-text` through the template
file (`tinyhelen.instruct.template`), tokenised in two parts so the prompt's tokens are exactly those a
generator sees. Rows of `instruct.block_size` tokens hold one example each (`packing: false`, padded) or as
many whole examples as fit (`packing: true`; position ids restart at every example, and transformers turns
restarting position ids into a block-diagonal causal mask, so no token attends across examples; the first
token of each example is never predicted from the one before). Labels are -100 on padding and, with
`loss_on: response`, on the prompt. Batches are cut to their longest row.

Training is `tinyhelen.pretrain.loop.train_model` (resume, accumulation, eval, curves, MLflow) with the `instruct`
hyperparameters; every `export_every` steps the weights are exported as a Hugging Face folder, kept in the run
folder until the run ends; then `out_dir` receives the final model and `step-<N>/` folders, atomically.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import atomic_dir, iter_records, read_json, sha256_file, write_json
from tinyhelen.core.tracking import MetricLogger
from tinyhelen.instruct.config import InstructConfig
from tinyhelen.instruct.template import InstructTemplate, load_template
from tinyhelen.pretrain.checkpoint import fingerprint
from tinyhelen.pretrain.config import PretrainConfig
from tinyhelen.pretrain.loop import _NOT_FINGERPRINTED, make_accelerator, resolve_runtime, train_model
from tinyhelen.pretrain.objectives import IGNORE_INDEX, Objective

log = logging.getLogger(__name__)

#: Role channel values.
PAD, PROMPT, RESPONSE = 0, 1, 2
#: `instruct` keys that become the loop's (`pretrain`-shaped) settings.
LOOP_KEYS = (
    "max_steps",
    "batch_size",
    "micro_batch_size",
    "lr_schedule",
    "warmup_steps",
    "weight_decay",
    "grad_clip",
    "eval_every",
    "eval_batches",
    "eval_batch_size",
    "log_every",
    "save_every",
    "keep_checkpoints",
    "resume",
    "run_dir",
)


def start_name(arch: str, corpus: str, seed: int) -> str:
    """The pretrained model's grid name."""
    return f"{arch}-{corpus}-s{seed}"


def run_name(arch: str, corpus: str, seed: int, variant: str) -> str:
    """`<arch>-<corpus>-s<seed>-<variant>`: the tuned model's folder and metrics name."""
    return f"{start_name(arch, corpus, seed)}-{variant}"


def tuned_model_names(cfg: InstructConfig) -> list[str]:
    """Every tuned model the `instruct` matrix makes (arch x pretraining corpus x instruction variant)."""
    return [
        run_name(arch, corpus, cfg.pretrain_seed, variant)
        for arch in cfg.archs
        for corpus in cfg.corpora
        for variant in cfg.variants
    ]


def corpus_pairs(cfg: InstructConfig) -> list[tuple[str, str, str]]:
    """(`<arch>-s<seed>-<variant>`, leaner-pretrained name, ori-pretrained name) for every arch and instruction
    variant, when the matrix has both pretraining corpora."""
    if not {"leaner", "ori"} <= set(cfg.corpora):
        return []
    seed = cfg.pretrain_seed
    return [
        (f"{arch}-s{seed}-{variant}", run_name(arch, "leaner", seed, variant), run_name(arch, "ori", seed, variant))
        for arch in cfg.archs
        for variant in cfg.variants
    ]


def start_dir(models_root: str | Path, arch: str, corpus: str, cfg: InstructConfig) -> Path:
    folder = Path(models_root) / start_name(arch, corpus, cfg.pretrain_seed)
    return folder if cfg.pretrain_step == "final" else folder / f"step-{cfg.pretrain_step}"


class InstructRows:
    """Tokenised examples laid out in rows: an int32 array [rows, 3, block_size] of (token id, position id,
    role: 0 padding / 1 prompt / 2 response). `shape` is (rows, block_size), as the loop expects of token
    blocks; indexing with row numbers gives the rows' [n, 3, block_size] array, which `InstructObjective`
    turns into a batch."""

    def __init__(self, data: np.ndarray) -> None:
        if data.ndim != 3 or data.shape[1] != 3 or len(data) == 0:
            raise ValueError(f"expected a non-empty [rows, 3, block_size] array, got shape {data.shape}")
        self.data = data

    @property
    def shape(self) -> tuple[int, int]:
        return (self.data.shape[0], self.data.shape[2])

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        return self.data[rows]


def encode_examples(records: list[dict], template: InstructTemplate, tokenizer) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, response ids + end-of-text) per record."""
    if tokenizer.eos_token_id is None:
        raise DataError("the start model's tokenizer has no end-of-text (eos) token")
    prompts = [template.prompt_text(r["instruction"], r["input"]) for r in records]
    responses = [template.response_text(r["output"]) for r in records]
    prompt_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(responses, add_special_tokens=False)["input_ids"]
    return [(p, r + [tokenizer.eos_token_id]) for p, r in zip(prompt_ids, response_ids, strict=True)]


def layout_rows(
    examples: list[tuple[list[int], list[int]]], block_size: int, pad_id: int, packing: bool
) -> tuple[InstructRows, dict[str, int]]:
    """Rows of whole examples (truncated to block_size when longer), in order; and counts."""
    rows: list[list[tuple[list[int], list[int]]]] = []
    used = block_size  # forces a first row
    truncated = 0
    for prompt, response in examples:
        length = len(prompt) + len(response)
        if length > block_size:
            truncated += 1
            prompt, response = prompt[:block_size], response[: max(0, block_size - len(prompt))]
            length = block_size
        if not packing or used + length > block_size:
            rows.append([])
            used = 0
        rows[-1].append((prompt, response))
        used += length
    data = np.zeros((len(rows), 3, block_size), dtype=np.int32)
    data[:, 0] = pad_id
    for number, row in enumerate(rows):
        at = 0
        for prompt, response in row:
            ids = prompt + response
            data[number, 0, at : at + len(ids)] = ids
            data[number, 1, at : at + len(ids)] = np.arange(len(ids))
            data[number, 2, at : at + len(prompt)] = PROMPT
            data[number, 2, at + len(prompt) : at + len(ids)] = RESPONSE
            at += len(ids)
        data[number, 1, at:] = np.arange(block_size - at)  # padding is a sequence of its own
    tokens = int((data[:, 2] != PAD).sum())
    return InstructRows(data), {"examples": len(examples), "rows": len(rows), "tokens": tokens, "truncated": truncated}


@dataclass
class InstructObjective(Objective):
    """Causal LM on instruction rows: labels -100 on padding, on each example's first token and (loss_on
    response) on the prompt; restarting position ids when packed, an attention mask over padding when not.
    Packed rows need the model's KV cache off (`without_cache`)."""

    packing: bool = True
    loss_on: str = "all"

    def make_batch(self, rows) -> dict[str, Any]:
        """A model batch from an int64 tensor [batch, 3, block_size] of `InstructRows` rows."""
        role = rows[:, 2]
        real = role.ne(PAD)
        length = int(real.any(dim=0).nonzero().max()) + 1 if real.any() else 1
        ids, positions, role, real = rows[:, 0, :length], rows[:, 1, :length], role[:, :length], real[:, :length]
        keep = role.eq(RESPONSE) if self.loss_on == "response" else real & positions.ne(0)
        labels = ids.masked_fill(~keep, IGNORE_INDEX)
        batch = {"input_ids": ids, "labels": labels}
        if self.packing:
            batch["position_ids"] = positions
        else:
            batch["attention_mask"] = real.long()
        return batch


def without_cache(model):
    """Turn the model's KV cache off for training and scoring. With a cache (transformers' default, in train
    mode too) the model ignores restarting position ids and packed examples attend to each other."""
    model.config.use_cache = False
    return model


def save_folder(model, tokenizer, folder: Path, use_cache: bool) -> None:
    """`save_pretrained` model and tokenizer, with the start model's `use_cache` (for generation) restored."""
    model.config.use_cache = use_cache
    try:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    finally:
        model.config.use_cache = False


def read_split(data_root: str | Path, variant: str, split: str) -> tuple[list[dict], Path]:
    path = Path(data_root) / variant / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: missing (run the instruct_data stage first)")
    records = []
    for origin, record in iter_records(path):
        if not isinstance(record, dict) or not all(
            isinstance(record.get(k), str) for k in ("instruction", "input", "output")
        ):
            raise DataError(f"{origin}: expected instruction, input and output strings")
        records.append(record)
    if not records:
        raise DataError(f"{path}: no records")
    return records, path


@dataclass
class TuneResult:
    metrics: dict[str, Any]
    train_curve: list[dict[str, float]]
    val_curve: list[dict[str, float]]
    inputs: dict[str, str] = field(default_factory=dict)
    is_main_process: bool = True


def loop_settings(cfg: InstructConfig, pretrain: PretrainConfig):
    """The `pretrain`-shaped settings the loop takes: the `instruct` hyperparameters over `pretrain`'s
    optimizer constants and runtime keys."""
    return with_changes(pretrain, **{key: getattr(cfg, key) for key in LOOP_KEYS})


def _folder_hashes(folder: Path) -> dict[str, str]:
    return {str(p): sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != "meta.json"}


def tune(
    arch: str,
    corpus: str,
    variant: str,
    cfg: InstructConfig,
    pretrain: PretrainConfig,
    seed: int,
    *,
    models_root: str | Path,
    data_root: str | Path,
    out_dir: str | Path,
    tracker: MetricLogger,
    on_step=None,
) -> TuneResult:
    """Tune the grid model (arch, corpus, `instruct.pretrain_seed`) on `variant`, save it with its exports.

    Args:
        arch: llama | mamba.
        corpus: the pretraining corpus of the start model (leaner | ori).
        variant: the instruction variant (leaner | ori).
        cfg: the `instruct` section.
        pretrain: the `pretrain` section (optimizer constants and the runtime: device, precision, threads).
        seed: the tuning seed (params' top-level `seed`).
        models_root: the folder of pretrained grid models.
        data_root: the instruct_data folder.
        out_dir: the tuned model folder (replaced whole, atomically, at the end).
        tracker: the MLflow (or null) logger of this run.
        on_step: called after each step once its export is written (tests interrupt runs with it).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.packing and arch == "mamba":
        raise ConfigError("instruct.packing: mamba carries its state across packed examples; use packing: false")
    source = start_dir(models_root, arch, corpus, cfg)
    if not (source / "config.json").is_file():
        raise DataError(
            f"{source}: no pretrained model (config.json) to start from (instruct.pretrain_seed="
            f"{cfg.pretrain_seed}, instruct.pretrain_step={cfg.pretrain_step})"
        )
    if not (source / "tokenizer.json").is_file():
        raise DataError(f"{source}: no tokenizer saved with the start model")
    template = load_template(cfg.template)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    splits, inputs = {}, {str(cfg.template): sha256_file(cfg.template)}
    for split in ("train", "validation"):
        records, path = read_split(data_root, variant, split)
        inputs[str(path)] = sha256_file(path)
        splits[split] = layout_rows(encode_examples(records, template, tokenizer), cfg.block_size, pad_id, cfg.packing)
    inputs.update(_folder_hashes(source))
    counts = {split: stats for split, (_, stats) in splits.items()}
    log.info("%s on %s instructions: train %s, validation %s", source, variant, counts["train"], counts["validation"])

    loop_cfg = loop_settings(cfg, pretrain)
    runtime = resolve_runtime(loop_cfg)
    accelerator = make_accelerator(runtime["cpu"])
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True, dtype=torch.float32)
    use_cache = bool(getattr(model.config, "use_cache", True))
    without_cache(model)
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions is not None and cfg.block_size > max_positions:
        raise DataError(
            f"instruct.block_size {cfg.block_size} exceeds the start model's max_position_embeddings ({max_positions})"
        )
    special = tuple(sorted({int(i) for i in tokenizer.all_special_ids}))
    objective = InstructObjective("clm", pad_id, special, packing=cfg.packing, loss_on=cfg.loss_on)
    name = run_name(arch, corpus, cfg.pretrain_seed, variant)
    fingerprint_data = {
        "arch": arch,
        "corpus": corpus,
        "variant": variant,
        "inputs": inputs,
        "instruct": {
            k: getattr(cfg, k) for k in ("loss_on", "packing", "block_size", "pretrain_seed", "pretrain_step")
        },
    }
    run_dir = Path(cfg.run_dir) / name
    exports = run_dir / "exports"
    # Identifies the run as the loop's own resume fingerprint does (what the weights depend on).
    loop_fields = {k: v for k, v in loop_cfg.model_dump(mode="json").items() if k not in _NOT_FINGERPRINTED}
    export_mark = fingerprint({"loop": loop_fields, "lr": cfg.lr, "seed": seed, **fingerprint_data})
    exported_now: set[int] = set()

    def export(step: int) -> None:
        if cfg.export_every and step % cfg.export_every == 0:
            if accelerator.is_main_process:
                with atomic_dir(exports / f"step-{step}") as tmp:
                    save_folder(model, tokenizer, tmp, use_cache)
                write_json(exports / f"step-{step}.json", {"run": export_mark, "step": step})
            accelerator.wait_for_everyone()
            exported_now.add(step)
        if on_step is not None:
            on_step(step)

    result = train_model(
        model,
        objective,
        splits["train"][0],
        splits["validation"][0],
        loop_cfg,
        lr=cfg.lr,
        seed=seed,
        run_dir=run_dir,
        tracker=tracker,
        fingerprint_data=fingerprint_data,
        accelerator=accelerator,
        on_step=export,
    )
    steps = [s for s in range(1, cfg.max_steps + 1) if cfg.export_every and s % cfg.export_every == 0]
    for step in steps:
        if step not in exported_now:  # exported before this process resumed the run: check it is this run's
            mark = exports / f"step-{step}.json"
            if not mark.is_file() or read_json(mark).get("run") != export_mark:
                raise DataError(
                    f"{exports / f'step-{step}'}: the export of this run's step {step} is missing "
                    f"(interrupted between checkpoint and export?); rerun with instruct.resume false"
                )
    val_at = {row["step"]: row for row in result.val_curve}
    checkpoints = {
        str(step): {"val/loss": round(val_at[step]["loss"], 5), "val/accuracy": round(val_at[step]["accuracy"], 5)}
        for step in steps
    }
    metrics = {
        "val/loss": round(result.metrics["val/loss"], 5),
        "val/perplexity": round(result.metrics["val/perplexity"], 4),
        "val/accuracy": round(result.metrics["val/accuracy"], 5),
        "val/tokens": int(result.metrics["val/tokens"]),
        "train/loss": round(result.metrics["train/loss"], 5),
        "steps": cfg.max_steps,
        "tokens_seen": result.metrics["tokens_seen"],
        "examples": {split: counts[split]["examples"] for split in counts},
        "rows": {split: counts[split]["rows"] for split in counts},
        "truncated": {split: counts[split]["truncated"] for split in counts},
        "checkpoints": checkpoints,
    }
    if accelerator.is_main_process:
        with atomic_dir(out_dir) as tmp:
            save_folder(model, tokenizer, tmp, use_cache)
            for step in steps:
                shutil.copytree(exports / f"step-{step}", tmp / f"step-{step}")
    accelerator.wait_for_everyone()
    return TuneResult(metrics, result.train_curve, result.val_curve, inputs, accelerator.is_main_process)


def write_outputs(
    result: TuneResult,
    *,
    name: str,
    model_dir: str | Path,
    metrics_dir: str | Path,
    config: dict[str, Any],
    seed: int,
    extra: dict[str, Any],
    data_source: str = "sample",
) -> None:
    """The run's metrics JSON, its curves (CSV for `dvc plots`), the model folder's meta.json and a Hugging Face
    model card for the final model and each exported step."""
    from tinyhelen.core.repro import write_meta
    from tinyhelen.pretrain.cards import write_model_card
    from tinyhelen.pretrain.run import write_curves

    curves = Path(metrics_dir) / "curves" / name
    write_curves(curves / "train.csv", result.train_curve, ("step", "tokens", "loss", "lr"))
    write_curves(curves / "val.csv", result.val_curve, ("step", "tokens", "loss", "accuracy"))
    write_json(Path(metrics_dir) / f"{name}.json", result.metrics)
    write_meta(
        model_dir,
        stage="instruct",
        config=config,
        seed=seed,
        inputs=result.inputs,
        extra={**extra, "metrics": result.metrics},
    )
    notes = (
        f"Instruction-tuned from `{extra['start']}` on the **{extra['variant']}** instruction data "
        "(`instruct_data`); prompt it as `### TASK INPUT:\n<instruction>\n\n### RESPONSE:\n`."
    )
    card = {
        "arch": extra["arch"],
        "corpus": extra["corpus"],
        "data_source": data_source,
        "params": config,
        "base_model": extra["start"],
        "tags": ["instruction-tuned", f"instruct-{extra['variant']}"],
        "notes": notes,
    }
    final = {
        k: result.metrics[k]
        for k in ("val/loss", "val/perplexity", "val/accuracy", "train/loss", "steps")
        if k in result.metrics
    }
    write_model_card(model_dir, **card, tokens_seen=result.metrics.get("tokens_seen"), metrics=final, title=name)
    for folder in sorted(Path(model_dir).glob("step-*")):
        step = int(folder.name.removeprefix("step-"))
        scores = result.metrics.get("checkpoints", {}).get(str(step), {})
        metrics = {"steps": step, **({"val/loss": scores["val/loss"]} if "val/loss" in scores else {})}
        write_model_card(folder, **card, tokens_seen=None, metrics=metrics, title=f"{name} at step {step}")
