"""Train one curriculum arm (strategy x seed) in the one training loop, with its data schedule as the hook.

    result = run_curriculum("iter-lmloss", 65, params, composed_dir="data/composed",
                            tokenizers_dir="data/tokenizers", difficulty_path="data/difficulty/leaner.jsonl",
                            model_dir="models/curriculum/iter-lmloss-s65", tracker=tracker)

The training documents (data/composed/<corpus>/train.jsonl) are tokenised once with the causal tokenizer and
repacked into `curriculum.block_size` rows whenever the schedule changes the pool; the validation documents
are packed once and evaluated whole every `eval_every` steps (a fixed held-out set, never in the pool). The
proxy Llama (`curriculum.model`) is built from `seed`, and `tinyhelen.pretrain.loop.train_model` trains it for
`curriculum.max_steps` with `curriculum.lr` (other optimizer settings from `pretrain`). Weights at each of
`curriculum.export_steps` are staged in the run folder (so a resumed run keeps the earlier ones) and copied
to `<model_dir>/step-<N>/` (HF model + tokenizer + curriculum.json) at the end.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import DataError
from tinyhelen.core.io import atomic_dir, iter_jsonl, sha256_file, write_json
from tinyhelen.core.runtime import load_tokenizer
from tinyhelen.core.tracking import MetricLogger
from tinyhelen.curriculum.config import CurriculumConfig
from tinyhelen.curriculum.pool import TokenPool, read_documents
from tinyhelen.curriculum.schedule import NEEDS_DIFFICULTY, CurriculumSchedule
from tinyhelen.pretrain.checkpoint import fingerprint
from tinyhelen.pretrain.config import PretrainConfig
from tinyhelen.pretrain.loop import resolve_runtime, train_model
from tinyhelen.pretrain.models import build_model, count_parameters, hf_config_kwargs
from tinyhelen.pretrain.objectives import make_objective
from tinyhelen.tokens.tokenizer import load_backend, special_ids

log = logging.getLogger(__name__)

CURVE_COLUMNS = (
    "step",
    "tokens",
    "loss",
    "accuracy",
    "level",
    "documents",
    "share",
    "seen_share",
    "scoring_tokens",
    "grew",
)


def run_name(strategy: str, seed: int) -> str:
    return f"{strategy}-s{seed}"


@dataclass
class CurriculumResult:
    metrics: dict[str, Any]
    curve: list[dict[str, Any]]
    train_curve: list[dict[str, Any]]
    inputs: dict[str, str] = field(default_factory=dict)


def read_difficulty(path: str | Path, ids: list[str], key: str) -> np.ndarray:
    """The `key` of every document in `ids` from a difficulty file (`id` per line), aligned by id.

    Raises:
        DataError: a line lacks the key or a number, or a training document has no score (named).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no difficulty file (run the `difficulty` stage first)")
    scores: dict[str, float] = {}
    for lineno, record in iter_jsonl(path):
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("id"), str)
            or not isinstance(record.get(key), (int, float))
        ):
            raise DataError(f"{path}:{lineno}: a difficulty record needs a string 'id' and a number '{key}'")
        scores[record["id"]] = float(record[key])
    missing = [i for i in ids if i not in scores]
    if missing:
        raise DataError(
            f"{path}: {len(missing)} training document(s) have no score, e.g. id {missing[0]!r} "
            "(re-run `difficulty` on the current corpus)"
        )
    return np.asarray([scores[i] for i in ids], dtype=np.float64)


def pretrain_settings(cur: CurriculumConfig, pretrain: PretrainConfig):
    """The `pretrain` section with the curriculum's own training values put in (what `train_model` reads)."""
    lr = pretrain.lr.model_dump() | {"llama": cur.lr}
    return with_changes(
        pretrain,
        archs=["llama"],
        corpora=[cur.corpus],
        max_steps=cur.max_steps,
        batch_size=cur.batch_size,
        micro_batch_size=cur.micro_batch_size,
        lr=lr,
        lr_schedule=cur.lr_schedule,
        warmup_steps=cur.warmup_steps,
        eval_every=cur.eval_every,
        eval_batches=cur.eval_batches,
        eval_batch_size=cur.eval_batch_size,
        log_every=cur.log_every,
        save_every=cur.save_every,
        run_dir=cur.run_dir,
    )


def run_curriculum(
    strategy: str,
    seed: int,
    cur: CurriculumConfig,
    pretrain: PretrainConfig,
    *,
    composed_dir: str | Path,
    tokenizers_dir: str | Path,
    difficulty_path: str | Path | None,
    model_dir: str | Path,
    tracker: MetricLogger,
    on_step=None,
) -> CurriculumResult:
    """Train one arm and export its checkpoints.

    Args:
        strategy: one of `tinyhelen.curriculum.config.STRATEGIES`.
        seed: model init, document and batch order.
        cur: the `curriculum` section.
        pretrain: the `pretrain` section (optimizer constants and the runtime).
        composed_dir: the compose stage's folder (`<corpus>/{train,validation}.jsonl`).
        tokenizers_dir: the tokenizer stage's folder (`causal/`).
        difficulty_path: the difficulty stage's file (needed by iter-sentlen and iter-lmloss).
        model_dir: where `step-<N>/` exports go (replaced whole).
        tracker: logs the loop's curves and the schedule's data share.
        on_step: passed to the loop after the export hook (tests interrupt runs with it).

    Returns:
        Headline metrics, the evaluation curve joined with the schedule's rows, the training-loss curve, and the
        SHA-256 of every input.
    """
    import torch

    cfg = pretrain_settings(cur, pretrain)
    corpus_dir = Path(composed_dir) / cur.corpus
    tokenizer_dir = Path(tokenizers_dir) / "causal"
    train_docs = read_documents(corpus_dir / "train.jsonl")
    val_docs = read_documents(corpus_dir / "validation.jsonl")
    difficulty = None
    inputs = {
        str(p): sha256_file(p)
        for p in (corpus_dir / "train.jsonl", corpus_dir / "validation.jsonl", tokenizer_dir / "tokenizer.json")
    }
    if strategy in NEEDS_DIFFICULTY:
        if difficulty_path is None:
            raise DataError(f"{strategy} needs the difficulty stage's file")
        difficulty = read_difficulty(difficulty_path, train_docs.ids, NEEDS_DIFFICULTY[strategy])
        inputs[str(difficulty_path)] = sha256_file(difficulty_path)
    pool = TokenPool.from_texts(train_docs.ids, train_docs.texts, tokenizer_dir)
    val_blocks = TokenPool.from_texts(val_docs.ids, val_docs.texts, tokenizer_dir).pack(
        np.arange(len(val_docs.ids)), cur.block_size
    )
    backend = load_backend(tokenizer_dir)
    specials = special_ids(backend, "causal")
    vocab_size = backend.get_vocab_size()
    runtime = resolve_runtime(cfg)
    schedule = CurriculumSchedule(
        strategy,
        pool,
        seed=seed,
        block_size=cur.block_size,
        levels=cur.levels,
        patience=cur.patience,
        threshold=cur.threshold,
        difficulty=difficulty,
        score_batch_size=cur.score_batch_size,
        bf16=runtime["bf16"],
    )
    log.info(
        "%s seed %d: %d training documents (%s tokens), %d validation rows of %d; first pool %d documents",
        strategy,
        seed,
        len(pool),
        f"{int(pool.lengths.sum()):,}",
        len(val_blocks),
        cur.block_size,
        len(schedule.selection()),
    )

    model_cfg = SimpleNamespace(llama=cur.model)
    torch.manual_seed(seed)
    model = build_model("llama", model_cfg, vocab_size, specials)
    counts = count_parameters(model)
    objective = make_objective(
        "clm",
        None,
        specials,
        mlm_probability=cfg.mlm_probability,
        plm_probability=cfg.plm_probability,
        max_span_length=cfg.max_span_length,
        block_size=cur.block_size,
    )
    name = run_name(strategy, seed)
    run_dir = Path(cur.run_dir) / name
    fingerprint_data = {
        "strategy": strategy,
        "curriculum": cur.model_dump(mode="json"),
        "model": hf_config_kwargs("llama", model_cfg, vocab_size, specials),
        "inputs": inputs,
    }
    staging = run_dir / f"exports-{fingerprint({**fingerprint_data, 'seed': seed})[:16]}"
    exports = sorted(s for s in cur.export_steps if s <= cur.max_steps)
    tokenizer = load_tokenizer(tokenizer_dir)

    def export(step: int) -> None:
        if step in exports:
            with atomic_dir(staging / f"step-{step}") as tmp:
                model.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                write_json(
                    tmp / "curriculum.json",
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "step": step,
                        "share": round(schedule.share(), 6),
                        "tokens": step * cur.batch_size * cur.block_size,
                    },
                )
        if on_step is not None:
            on_step(step)

    result = train_model(
        model,
        objective,
        schedule.blocks(),
        val_blocks,
        cfg,
        lr=cur.lr,
        seed=seed,
        run_dir=run_dir,
        tracker=tracker,
        fingerprint_data=fingerprint_data,
        on_step=export,
        data_schedule=schedule,
    )
    with atomic_dir(model_dir) as tmp:
        for step in exports:
            source = staging / f"step-{step}"
            if not source.is_dir():
                raise DataError(
                    f"{source}: the export of step {step} is missing (its run was resumed from a "
                    "checkpoint of an earlier run; delete the run folder and re-run)"
                )
            shutil.copytree(source, tmp / f"step-{step}")
    curve = join_curves(result.val_curve, schedule.history)
    for row in curve:
        tracker.log_metrics(
            {
                "curriculum/share": row["share"],
                "curriculum/level": row["level"],
                "curriculum/scoring_tokens": row["scoring_tokens"],
            },
            step=row["step"],
        )
    last = curve[-1]
    metrics = {
        "strategy": strategy,
        "seed": seed,
        "steps": cur.max_steps,
        "tokens_seen": result.metrics["tokens_seen"],
        "val/loss": round(result.metrics["val/loss"], 6),
        "val/accuracy": round(result.metrics["val/accuracy"], 6),
        "best_val_loss": round(min(row["loss"] for row in curve), 6),
        "final_level": last["level"],
        "final_share": round(last["share"], 6),
        "seen_share": round(last["seen_share"], 6),
        "growth_steps": sum(1 for row in curve if row["grew"]),
        "scoring_tokens": schedule.scoring_tokens,
        "documents": len(pool),
        "pool_tokens": int(pool.lengths.sum()),
        "params/total": counts["total"],
    }
    return CurriculumResult(metrics, curve, result.train_curve, inputs)


def join_curves(val_curve: list[dict[str, Any]], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loop's evaluation rows with the schedule's row of the same step (pool level, share, scoring)."""
    by_step = {row["step"]: row for row in history}
    joined = []
    for row in val_curve:
        extra = by_step.get(row["step"])
        if extra is None:
            raise DataError(f"no schedule row for the evaluation at step {row['step']}")
        joined.append(
            {
                "step": row["step"],
                "tokens": row["tokens"],
                "loss": round(row["loss"], 6),
                "accuracy": round(row["accuracy"], 6),
                "level": extra["level"],
                "documents": extra["documents"],
                "share": round(extra["share"], 6),
                "seen_share": round(extra["seen_share"], 6),
                "scoring_tokens": extra["scoring_tokens"],
                "grew": int(extra["grew"]),
            }
        )
    return joined


def write_run_outputs(
    result: CurriculumResult, *, out_dir: str | Path, metrics_path: str | Path, config: dict[str, Any], max_steps: int
) -> None:
    """`<out_dir>/{run.json,curve.csv,train.csv,meta.json}` (replaced whole) and the run's metrics JSON."""
    from tinyhelen.core.repro import write_meta
    from tinyhelen.pretrain.run import write_curves

    strategy, seed = result.metrics["strategy"], result.metrics["seed"]
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "run.json", {"strategy": strategy, "seed": seed, "max_steps": max_steps})
        write_curves(tmp / "curve.csv", result.curve, CURVE_COLUMNS)
        train_rows = [{**row, "loss": round(row["loss"], 6), "lr": round(row["lr"], 9)} for row in result.train_curve]
        write_curves(tmp / "train.csv", train_rows, ("step", "tokens", "loss", "lr"))
        write_meta(
            tmp, stage="curriculum", config=config, seed=seed, inputs=result.inputs, extra={"strategy": strategy}
        )
    write_json(metrics_path, result.metrics)
