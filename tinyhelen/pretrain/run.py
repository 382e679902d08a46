"""Pre-train one (arch, corpus, seed) instance: packed data + tokenizer in, HF model folder + metrics + curves out.

    result = pretrain("llama", "leaner", params.pretrain, params.model, packed_root="data/packed",
                      tokenizers_root="data/tokenizers", model_dir="models/llama-leaner-s65", tracker=tracker, seed=65)

Reads `data/packed/<corpus>-<family>/{train,validation}.bin` + index.json and the family's tokenizer from
`data/tokenizers/<family>/`, builds the architecture from `model.<arch>` of params with the pack's vocabulary,
trains it with `tinyhelen.pretrain.loop.train_model`, and writes `model_dir` (save_pretrained model + tokenizer)
atomically.
The pre-training seed (one of `pretrain.seeds`) drives the initialisation, the data order and the masks.
Each step in `pretrain.export_steps` is also saved as a loadable HF folder, `model_dir/step-<N>/`: written to
the run folder when the step is reached (so it survives a resumed run) and moved into `model_dir` at the end.
Before any work, a pack too small to fill one optimizer step is an error (it would loop over the same rows
many times per step).
"""

from __future__ import annotations

import csv
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import atomic_dir, atomic_open, read_json, sha256_file, write_json
from tinyhelen.core.repro import write_meta, write_metrics
from tinyhelen.core.runtime import load_tokenizer
from tinyhelen.core.tracking import MetricLogger
from tinyhelen.grid import GridModel
from tinyhelen.pretrain.cards import changed_params, write_model_card
from tinyhelen.pretrain.checkpoint import fingerprint
from tinyhelen.pretrain.config import ModelConfig, PretrainConfig
from tinyhelen.pretrain.loop import _NOT_FINGERPRINTED, make_accelerator, resolve_runtime, train_model
from tinyhelen.pretrain.models import arch_spec, build_model, count_parameters, hf_config_kwargs
from tinyhelen.pretrain.objectives import make_objective
from tinyhelen.tokens.shards import open_split, read_pack_index

log = logging.getLogger(__name__)


@dataclass
class PretrainResult:
    metrics: dict[str, Any]
    train_curve: list[dict[str, float]]
    val_curve: list[dict[str, float]]
    inputs: dict[str, str] = field(default_factory=dict)
    is_main_process: bool = True
    started_from: dict[str, Any] | None = None
    """`pretrain.resume_from` when the run started from it (path, kind, step)."""


def instance_name(arch: str, corpus: str, seed: int) -> str:
    """The grid name of one pre-trained model: `<arch>-<corpus>-s<seed>`."""
    return GridModel(arch, corpus, seed).name


def export_dir_name(step: int) -> str:
    """The folder of an exported step inside the model folder."""
    return f"step-{step}"


def check_fills_a_step(pack_dir: Path, rows: int, batch_size: int, block_size: int) -> None:
    """Fail before training when the train split has fewer rows than one optimizer step takes."""
    if rows < batch_size:
        raise DataError(
            f"{pack_dir / 'train.bin'}: {rows} training rows of {block_size} tokens cannot fill one optimizer "
            f"step of pretrain.batch_size = {batch_size} sequences; use a larger data source (data.source, "
            f"data.budget) or a smaller pretrain.batch_size / pack.block_size"
        )


def pretrain(
    arch: str,
    corpus: str,
    cfg: PretrainConfig,
    model_cfg: ModelConfig,
    *,
    packed_root: str | Path,
    tokenizers_root: str | Path,
    model_dir: str | Path,
    tracker: MetricLogger,
    on_step=None,
    seed: int | None = None,
) -> PretrainResult:
    """Train `arch` on `corpus` and save it.

    Args:
        arch: llama | mamba | bert | xlnet.
        corpus: leaner | ori.
        cfg: the `pretrain` section.
        model_cfg: the `model` section (the dims of every arch).
        packed_root: the folder holding `<corpus>-<family>/` pack folders.
        tokenizers_root: the folder holding `<family>/` tokenizer folders.
        model_dir: where the trained model, tokenizer and config go (replaced whole, atomically).
        tracker: the MLflow (or null) logger of this instance.
        on_step: passed to the loop (tests interrupt runs with it).
        seed: the pre-training seed, one of `pretrain.seeds` (default: the first).

    Returns:
        Final metrics (with parameter counts), curves, and the SHA-256 of every input file.
    """
    import torch

    spec = arch_spec(arch)
    seed = cfg.seeds[0] if seed is None else seed
    if seed not in cfg.seeds:
        raise ConfigError(f"pretrain seed {seed} is not in pretrain.seeds {cfg.seeds}")
    name = instance_name(arch, corpus, seed)
    pack_dir = Path(packed_root) / f"{corpus}-{spec.family}"
    index = read_pack_index(pack_dir)
    if index.family != spec.family:
        raise DataError(f"{pack_dir / 'index.json'}: family is {index.family!r}, {arch} needs {spec.family!r}")
    tokenizer_dir = Path(tokenizers_root) / spec.family
    tokenizer = load_tokenizer(tokenizer_dir)
    if len(tokenizer) > index.vocab_size:
        raise DataError(
            f"{tokenizer_dir}: {len(tokenizer)} tokens, more than the pack's vocab_size "
            f"{index.vocab_size} ({pack_dir / 'index.json'})"
        )
    train_blocks, val_blocks = open_split(index, "train"), open_split(index, "validation")
    check_fills_a_step(pack_dir, len(train_blocks), cfg.batch_size, index.block_size)
    max_positions = getattr(model_cfg, arch).model_dump().get("max_position_embeddings")
    if max_positions is not None and index.block_size > max_positions:
        raise DataError(
            f"{pack_dir / 'index.json'}: block_size {index.block_size} exceeds "
            f"model.{arch}.max_position_embeddings ({max_positions})"
        )

    runtime = resolve_runtime(cfg)
    accelerator = make_accelerator(runtime["cpu"])
    torch.manual_seed(seed)  # identical init on every process and every rerun
    model = build_model(arch, model_cfg, index.vocab_size, index.special_ids)
    counts = count_parameters(model)
    log.info(
        "%s: %s parameters, %s non-embedding (%s on %s, block %d, vocab %d)",
        arch,
        f"{counts['total']:,}",
        f"{counts['non_embedding']:,}",
        type(model).__name__,
        accelerator.device,
        index.block_size,
        index.vocab_size,
    )
    objective = make_objective(
        spec.objective,
        tokenizer,
        index.special_ids,
        mlm_probability=cfg.mlm_probability,
        plm_probability=cfg.plm_probability,
        max_span_length=cfg.max_span_length,
        block_size=index.block_size,
    )
    inputs = {
        str(pack_dir / name): sha256_file(pack_dir / name) for name in ("index.json", "train.bin", "validation.bin")
    }
    inputs.update({str(p): sha256_file(p) for p in sorted(tokenizer_dir.iterdir()) if p.is_file()})
    fingerprint_data = {
        "arch": arch,
        "corpus": corpus,
        "model": hf_config_kwargs(arch, model_cfg, index.vocab_size, index.special_ids),
        "inputs": inputs,
    }
    lr = cfg.lr.value(arch, corpus)
    run_dir = Path(cfg.run_dir) / name
    exports = Path(run_dir) / "exports"
    export_id = fingerprint(
        {
            "pretrain": {k: v for k, v in cfg.model_dump(mode="json").items() if k not in _NOT_FINGERPRINTED},
            "lr": lr,
            "seed": seed,
            **fingerprint_data,
        }
    )

    def step_end(step: int) -> None:
        if step in cfg.export_steps and accelerator.is_main_process:
            save_export(exports / export_dir_name(step), model, tokenizer, export_id, step)
        if on_step is not None:
            on_step(step)

    result = train_model(
        model,
        objective,
        train_blocks,
        val_blocks,
        cfg,
        lr=lr,
        seed=seed,
        run_dir=run_dir,
        tracker=tracker,
        fingerprint_data=fingerprint_data,
        accelerator=accelerator,
        on_step=step_end,
    )
    metrics = {
        **result.metrics,
        "params/total": counts["total"],
        "params/non_embedding": counts["non_embedding"],
        "block_size": index.block_size,
    }
    if accelerator.is_main_process:
        saved = [check_export(exports / export_dir_name(step), export_id, step) for step in cfg.export_steps]
        with atomic_dir(model_dir) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            for step, folder in zip(cfg.export_steps, saved, strict=True):
                shutil.copytree(folder, tmp / export_dir_name(step), ignore=shutil.ignore_patterns(EXPORT_ID))
    accelerator.wait_for_everyone()
    if result.started_from is not None:  # what it started from, by content (DVC does not track that path)
        start = Path(result.started_from["path"])
        inputs.update({str(p): sha256_file(p) for p in sorted(start.iterdir()) if p.is_file()})
    return PretrainResult(
        metrics, result.train_curve, result.val_curve, inputs, accelerator.is_main_process, result.started_from
    )


#: What a model card reports of the final metrics (no timings: cards are DVC outputs and must not change).
CARD_METRICS = ("val/loss", "val/perplexity", "val/accuracy", "train/loss", "steps")


EXPORT_ID = "export.json"


def save_export(folder: Path, model, tokenizer, export_id: str, step: int) -> None:
    """One exported step as a save_pretrained folder (model + tokenizer), tagged with the run it belongs to."""
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / EXPORT_ID, {"step": step, "run": export_id})
    log.info("exported step %d to %s", step, folder)


def check_export(folder: Path, export_id: str, step: int) -> Path:
    """The export folder of `step` if it belongs to this very run; DataError otherwise."""
    tag = folder / EXPORT_ID
    if not tag.is_file() or read_json(tag).get("run") != export_id:
        raise DataError(
            f"{folder}: no export of step {step} from this run (it resumed from a checkpoint past "
            f"step {step}, saved before export_steps listed it); delete {folder.parent.parent} to "
            "train again from scratch"
        )
    return folder


def write_outputs(
    result: PretrainResult,
    *,
    arch: str,
    corpus: str,
    model_dir: str | Path,
    metrics_dir: str | Path,
    config: dict[str, Any],
    seed: int,
    export_steps: list[int] = (),
    data_source: str = "sample",
    params_file: str | Path = "params.yaml",
) -> None:
    """The instance's metrics JSON, its two curves (CSV for `dvc plots`), the model folder's meta.json and its
    Hugging Face model card (README.md: corpus, tokens seen, dims, the experiment's changed params, metrics),
    and the same for each exported step."""
    name = instance_name(arch, corpus, seed)
    curves = Path(metrics_dir) / "curves" / name
    write_curves(curves / "train.csv", result.train_curve, ("step", "tokens", "loss", "lr"))
    write_curves(curves / "val.csv", result.val_curve, ("step", "tokens", "loss", "accuracy"))
    write_metrics(Path(metrics_dir) / f"{name}.json", result.metrics)  # timings stay in MLflow
    saved = read_json(Path(model_dir) / "config.json")
    extra = {
        "arch": arch,
        "corpus": corpus,
        "architectures": saved.get("architectures"),
        "model_type": saved.get("model_type"),
    }
    changed = changed_params(
        params_file, os.environ.get("DVC_EXP_BASELINE_REV"), sections=["seed", f"model.{arch}", "pretrain"]
    )
    # The card is part of the DVC output, so it names no experiment (a random name per `dvc exp run` would change
    # the model's hash and re-run everything downstream); the experiment name is an MLflow tag of the run.
    card = {"arch": arch, "corpus": corpus, "data_source": data_source, "params": config, "changed": changed}
    for step in export_steps:
        folder = Path(model_dir) / export_dir_name(step)
        write_meta(
            folder, stage="pretrain", config=config, seed=seed, inputs=result.inputs, extra={**extra, "step": step}
        )
        at_step = [row for row in result.val_curve if row.get("step") == step]
        write_model_card(
            folder,
            **card,
            tokens_seen=at_step[0]["tokens"] if at_step else None,
            metrics={"val/loss": at_step[0]["loss"], "steps": step} if at_step else {"steps": step},
            title=f"{instance_name(arch, corpus, seed)} at step {step}",
            notes=f"An intermediate checkpoint (step {step}) of `{instance_name(arch, corpus, seed)}`.",
        )
    write_meta(
        model_dir,
        stage="pretrain",
        config=config,
        seed=seed,
        inputs=result.inputs,
        extra={
            **extra,
            "metrics": result.metrics,
            "export_steps": list(export_steps),
            "started_from": result.started_from,
        },
    )
    write_model_card(
        model_dir,
        **card,
        tokens_seen=result.metrics.get("tokens_seen"),
        metrics={k: result.metrics[k] for k in CARD_METRICS if k in result.metrics},
        notes=_started_note(result.started_from),
    )


def _started_note(started_from: dict[str, Any] | None) -> str | None:
    if started_from is None:
        return None
    if started_from["kind"] == "checkpoint":
        return f"Continued from the training checkpoint `{started_from['path']}` at step {started_from['step']}."
    return f"Started from the weights of `{started_from['path']}` (`pretrain.resume_from`)."


def write_curves(path: str | Path, rows: list[dict[str, float]], columns: tuple[str, ...]) -> None:
    """One curve as CSV (a header, then a row per logged step) for `dvc plots`, atomically."""
    with atomic_open(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def launched_rank() -> int:
    """This process's rank under `accelerate launch` / torchrun (0 when run plainly)."""
    return int(os.environ.get("RANK", "0"))


def check_launch() -> None:
    """Warn when `accelerate launch --cpu` started this process: accelerate's `--cpu` always runs ONE process,
    whatever `--num_processes` says. Several CPU processes (gloo): `accelerate launch --multi_gpu
    --num_processes N ...` or `torchrun --nproc_per_node N ...` with `pretrain.device: cpu`."""
    if os.environ.get("ACCELERATE_USE_CPU", "").lower() == "true" and "WORLD_SIZE" not in os.environ:
        log.warning(
            "accelerate launch --cpu runs one process, whatever --num_processes says; for N CPU "
            "processes use `accelerate launch --multi_gpu --num_processes N` (or `torchrun "
            "--nproc_per_node N`) with pretrain.device: cpu"
        )
