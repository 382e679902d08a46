"""Stage `instruct`: instruction-tune one pretrained grid model on one instruction variant.

    python -m stages.instruct --arch llama --corpus leaner --variant ori [--params params.yaml]

Reads models/<arch>-<corpus>-s<instruct.pretrain_seed>/ (or its step-<N>/) and data/instruct/<variant>/;
writes models/instruct/<arch>-<corpus>-s<seed>-<variant>/ (HF model + tokenizer + meta.json, and step-<N>/
exports), metrics/instruct/<name>.json and metrics/instruct/curves/<name>/{train,val}.csv. Checkpoints go to
instruct.run_dir (git-ignored). See `tinyhelen.instruct.tune`.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything
from tinyhelen.core.tracking import NullLogger, open_tracker
from tinyhelen.instruct.tune import run_name, start_dir, tune, write_outputs
from tinyhelen.params import load_params
from tinyhelen.pretrain.run import launched_rank


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=["llama", "mamba"])
    parser.add_argument("--corpus", required=True, choices=["leaner", "ori"], help="pretraining corpus")
    parser.add_argument("--variant", required=True, choices=["leaner", "ori"], help="instruction variant")
    parser.add_argument("--models", default="models", help="folder of pretrained <arch>-<corpus>-s<seed> models")
    parser.add_argument("--data", default="data/instruct", help="the instruct_data folder")
    parser.add_argument("--out", default="models/instruct", help="output folder of tuned models")
    parser.add_argument("--metrics", default="metrics/instruct", help="folder of <name>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    main_process = launched_rank() == 0
    setup_logging(None if main_process else "WARNING")
    seed_everything(params.seed, deterministic=params.pretrain.deterministic)
    cfg = params.instruct
    name = run_name(args.arch, args.corpus, cfg.pretrain_seed, args.variant)
    config = {"seed": params.seed, "instruct": cfg, "pretrain": params.pretrain}
    tracking = (
        open_tracker("instruct", config, run_name=f"instruct@{name}")
        if main_process
        else (contextlib.nullcontext(NullLogger()))
    )
    with tracking as tracker:
        tracker.set_tags(
            {"tinyhelen.arch": args.arch, "tinyhelen.corpus": args.corpus, "tinyhelen.instruct_variant": args.variant}
        )
        model_dir = Path(args.out) / name
        result = tune(
            args.arch,
            args.corpus,
            args.variant,
            params.instruct,
            params.pretrain,
            params.seed,
            models_root=args.models,
            data_root=args.data,
            out_dir=model_dir,
            tracker=tracker,
        )
        if main_process:
            start = start_dir(args.models, args.arch, args.corpus, cfg)
            write_outputs(
                result,
                name=name,
                model_dir=model_dir,
                metrics_dir=args.metrics,
                config=config,
                seed=params.seed,
                extra={"arch": args.arch, "corpus": args.corpus, "variant": args.variant, "start": str(start)},
                data_source=params.data.source,
            )
            tracker.log_metrics(
                {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}, step=cfg.max_steps
            )


if __name__ == "__main__":
    run_cli(main)
