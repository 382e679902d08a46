"""Stage `pretrain`: train one (arch, corpus, seed) instance of the DVC matrix from scratch.

    python -m stages.pretrain --arch llama --corpus leaner --seed 65 [--params params.yaml]
    accelerate launch --multi_gpu --num_processes 4 -m stages.pretrain --arch llama --corpus leaner --seed 65
    # CPU processes over gloo: the same with pretrain.device: cpu (accelerate's --cpu flag runs ONE process)

Reads data/packed/<corpus>-<family>/ and data/tokenizers/<family>/; writes models/<arch>-<corpus>-s<seed>/ (HF
model, tokenizer, meta.json, and a step-<N>/ folder per `pretrain.export_steps`),
metrics/pretrain/<arch>-<corpus>-s<seed>.json and the curves metrics/pretrain/curves/<arch>-<corpus>-s<seed>/
{train,val}.csv. The seed (one of `pretrain.seeds`; default the first) drives the instance's initialisation
and data order. Checkpoints go to pretrain.run_dir (git-ignored). See `tinyhelen.pretrain.loop` for the loop.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.release import VARIANTS
from tinyhelen.core.repro import seed_everything
from tinyhelen.core.tracking import NullLogger, open_tracker
from tinyhelen.params import load_params
from tinyhelen.pretrain.config import ARCH_REGISTRY
from tinyhelen.pretrain.run import check_launch, instance_name, launched_rank, pretrain, write_outputs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=list(ARCH_REGISTRY))
    parser.add_argument("--corpus", required=True, choices=list(VARIANTS))
    parser.add_argument("--seed", type=int, help="pre-training seed, one of pretrain.seeds (default: the first)")
    parser.add_argument("--packed", default="data/packed", help="folder of <corpus>-<family> packs")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="folder of <family> tokenizers")
    parser.add_argument("--models", default="models", help="output folder of <arch>-<corpus>-s<seed> models")
    parser.add_argument("--metrics", default="metrics/pretrain", help="folder of <arch>-<corpus>-s<seed>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    seed = params.pretrain.seeds[0] if args.seed is None else args.seed
    main_process = launched_rank() == 0
    setup_logging(None if main_process else "WARNING")
    check_launch()
    seed_everything(seed, deterministic=params.pretrain.deterministic)
    name = instance_name(args.arch, args.corpus, seed)
    config = {
        "seed": params.seed,
        "pretrain_seed": seed,
        "model": {args.arch: getattr(params.model, args.arch)},
        "pretrain": params.pretrain,
    }
    tracking = (
        open_tracker("pretrain", config, run_name=f"pretrain@{name}")
        if main_process
        else (contextlib.nullcontext(NullLogger()))
    )
    with tracking as tracker:
        tracker.set_tags({"tinyhelen.arch": args.arch, "tinyhelen.corpus": args.corpus, "tinyhelen.seed": str(seed)})
        model_dir = Path(args.models) / name
        result = pretrain(
            args.arch,
            args.corpus,
            params.pretrain,
            params.model,
            packed_root=args.packed,
            tokenizers_root=args.tokenizers,
            model_dir=model_dir,
            tracker=tracker,
            seed=seed,
        )
        if main_process:
            write_outputs(
                result,
                arch=args.arch,
                corpus=args.corpus,
                model_dir=model_dir,
                metrics_dir=args.metrics,
                config=config,
                seed=seed,
                export_steps=params.pretrain.export_steps,
                data_source=params.data.source,
                params_file=args.params,
            )
            # the loop logged the last step's train/ and val/ metrics already: the rest, once
            tracker.log_metrics(
                {k: v for k, v in result.metrics.items() if not k.startswith(("train/", "val/"))},
                step=params.pretrain.max_steps,
            )
            if result.started_from is not None:
                tracker.set_tags(
                    {
                        "tinyhelen.resume_from": result.started_from["path"],
                        "tinyhelen.resume_kind": result.started_from["kind"],
                        "tinyhelen.resume_step": result.started_from["step"],
                    }
                )
            tracker.log_artifact(model_dir / "README.md", "model_card")
            tracker.log_artifact(model_dir / "meta.json", "model_card")
            tracker.log_artifact(Path(args.metrics) / "curves" / name, "curves")


if __name__ == "__main__":
    run_cli(main)
