"""Pre-train one (arch, corpus) instance: packed data + tokenizer in, HF model folder + metrics + curves out.

    result = pretrain("llama", "leaner", params, packed_root="data/packed", tokenizers_root="data/tokenizers",
                      model_dir="models/llama-leaner", tracker=tracker)

Reads `data/packed/<corpus>-<family>/{train,validation}.bin` + index.json and the family's tokenizer from
`data/tokenizers/<family>/`, builds the architecture from `params.model.<arch>` with the pack's vocabulary,
trains it with `tinyhelen.train.train_model`, and writes `model_dir` (save_pretrained model + tokenizer) atomically.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyhelen.cards import changed_params, write_model_card
from tinyhelen.config import Params
from tinyhelen.errors import DataError
from tinyhelen.io import atomic_dir, atomic_open, read_json, sha256_file, write_json
from tinyhelen.models import arch_spec, build_model, count_parameters, hf_config_kwargs
from tinyhelen.objectives import make_objective
from tinyhelen.packed import open_split, read_pack_index
from tinyhelen.repro import write_meta
from tinyhelen.tracking import MetricLogger
from tinyhelen.train import make_accelerator, resolve_runtime, train_model

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


def load_tokenizer(tokenizer_dir: str | Path):
    """The family's `PreTrainedTokenizerFast` folder, loaded offline."""
    from transformers import AutoTokenizer

    tokenizer_dir = Path(tokenizer_dir)
    if not (tokenizer_dir / "tokenizer.json").exists():
        raise DataError(f"{tokenizer_dir}: no tokenizer.json (run the tokenizer stage first)")
    return AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)


def pretrain(arch: str, corpus: str, params: Params, *, packed_root: str | Path, tokenizers_root: str | Path,
             model_dir: str | Path, tracker: MetricLogger, on_step=None) -> PretrainResult:
    """Train `arch` on `corpus` and save it.

    Args:
        arch: llama | mamba | bert | xlnet.
        corpus: leaner | ori.
        params: the validated params (sections `seed`, `model`, `pretrain`).
        packed_root: the folder holding `<corpus>-<family>/` pack folders.
        tokenizers_root: the folder holding `<family>/` tokenizer folders.
        model_dir: where the trained model, tokenizer and config go (replaced whole, atomically).
        tracker: the MLflow (or null) logger of this instance.
        on_step: passed to the loop (tests interrupt runs with it).

    Returns:
        Final metrics (with parameter counts), curves, and the SHA-256 of every input file.
    """
    import torch

    spec = arch_spec(arch)
    cfg = params.pretrain
    pack_dir = Path(packed_root) / f"{corpus}-{spec.family}"
    index = read_pack_index(pack_dir)
    if index.family != spec.family:
        raise DataError(f"{pack_dir / 'index.json'}: family is {index.family!r}, {arch} needs {spec.family!r}")
    tokenizer_dir = Path(tokenizers_root) / spec.family
    tokenizer = load_tokenizer(tokenizer_dir)
    if len(tokenizer) > index.vocab_size:
        raise DataError(f"{tokenizer_dir}: {len(tokenizer)} tokens, more than the pack's vocab_size "
                        f"{index.vocab_size} ({pack_dir / 'index.json'})")
    train_blocks, val_blocks = open_split(index, "train"), open_split(index, "validation")
    max_positions = getattr(params.model, arch).model_dump().get("max_position_embeddings")
    if max_positions is not None and index.block_size > max_positions:
        raise DataError(f"{pack_dir / 'index.json'}: block_size {index.block_size} exceeds "
                        f"model.{arch}.max_position_embeddings ({max_positions})")

    runtime = resolve_runtime(cfg)
    accelerator = make_accelerator(runtime["cpu"])
    torch.manual_seed(params.seed)  # identical init on every process and every rerun
    model = build_model(arch, params.model, index.vocab_size, index.special_ids)
    counts = count_parameters(model)
    log.info("%s: %s parameters, %s non-embedding (%s on %s, block %d, vocab %d)", arch, f"{counts['total']:,}",
             f"{counts['non_embedding']:,}", type(model).__name__, accelerator.device, index.block_size,
             index.vocab_size)
    objective = make_objective(spec.objective, tokenizer, index.special_ids, mlm_probability=cfg.mlm_probability,
                               plm_probability=cfg.plm_probability, max_span_length=cfg.max_span_length,
                               block_size=index.block_size)
    inputs = {str(pack_dir / name): sha256_file(pack_dir / name)
              for name in ("index.json", "train.bin", "validation.bin")}
    inputs.update({str(p): sha256_file(p) for p in sorted(tokenizer_dir.iterdir()) if p.is_file()})
    fingerprint_data = {"arch": arch, "corpus": corpus,
                        "model": hf_config_kwargs(arch, params.model, index.vocab_size, index.special_ids),
                        "inputs": inputs}
    result = train_model(model, objective, train_blocks, val_blocks, cfg, lr=getattr(cfg.lr, arch),
                         seed=params.seed, run_dir=Path(cfg.run_dir) / f"{arch}-{corpus}", tracker=tracker,
                         fingerprint_data=fingerprint_data, accelerator=accelerator, on_step=on_step)
    metrics = {**result.metrics, "params/total": counts["total"], "params/non_embedding": counts["non_embedding"],
               "block_size": index.block_size}
    if accelerator.is_main_process:
        with atomic_dir(model_dir) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    accelerator.wait_for_everyone()
    if result.started_from is not None:  # what it started from, by content (DVC does not track that path)
        start = Path(result.started_from["path"])
        inputs.update({str(p): sha256_file(p) for p in sorted(start.iterdir()) if p.is_file()})
    return PretrainResult(metrics, result.train_curve, result.val_curve, inputs, accelerator.is_main_process,
                          result.started_from)


#: What a model card reports of the final metrics (no timings: cards are DVC outputs and must not change).
CARD_METRICS = ("val/loss", "val/perplexity", "val/accuracy", "train/loss", "steps")


def write_outputs(result: PretrainResult, *, arch: str, corpus: str, model_dir: str | Path, metrics_dir: str | Path,
                  config: dict[str, Any], seed: int, data_source: str = "sample",
                  params_file: str | Path = "params.yaml") -> None:
    """The instance's metrics JSON, its two curves (CSV for `dvc plots`), the model folder's meta.json and its
    Hugging Face model card (README.md: corpus, tokens seen, dims, the experiment's changed params, metrics)."""
    name = f"{arch}-{corpus}"
    curves = Path(metrics_dir) / "curves" / name
    write_curves(curves / "train.csv", result.train_curve, ("step", "tokens", "loss", "lr"))
    write_curves(curves / "val.csv", result.val_curve, ("step", "tokens", "loss", "accuracy"))
    write_json(Path(metrics_dir) / f"{name}.json", result.metrics)
    saved = read_json(Path(model_dir) / "config.json")
    write_meta(model_dir, stage="pretrain", config=config, seed=seed, inputs=result.inputs,
               extra={"arch": arch, "corpus": corpus, "architectures": saved.get("architectures"),
                      "model_type": saved.get("model_type"), "metrics": result.metrics,
                      "started_from": result.started_from})
    changed = changed_params(params_file, os.environ.get("DVC_EXP_BASELINE_REV"),
                             sections=["seed", f"model.{arch}", "pretrain"])
    write_model_card(model_dir, arch=arch, corpus=corpus, data_source=data_source,
                     tokens_seen=result.metrics.get("tokens_seen"),
                     metrics={k: result.metrics[k] for k in CARD_METRICS if k in result.metrics},
                     params=config, changed=changed, exp_name=os.environ.get("DVC_EXP_NAME"),
                     notes=_started_note(result.started_from))


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
        log.warning("accelerate launch --cpu runs one process, whatever --num_processes says; for N CPU "
                    "processes use `accelerate launch --multi_gpu --num_processes N` (or `torchrun "
                    "--nproc_per_node N`) with pretrain.device: cpu")
