"""Stage `pretrain`: train one (arch, corpus) instance of the DVC matrix from scratch.

    python -m stages.pretrain --arch llama --corpus leaner [--params params.yaml]
    accelerate launch --multi_gpu --num_processes 4 -m stages.pretrain --arch llama --corpus leaner   # DDP
    # CPU processes over gloo: the same with pretrain.device: cpu (accelerate's --cpu flag runs ONE process)

Reads data/packed/<corpus>-<family>/ and data/tokenizers/<family>/; writes models/<arch>-<corpus>/ (HF model,
tokenizer, meta.json), metrics/pretrain/<arch>-<corpus>.json and the curves metrics/pretrain/curves/<arch>-<corpus>/
{train,val}.csv. Checkpoints go to pretrain.run_dir (git-ignored). See `tinyhelen.train` for the loop.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from tinyhelen.config import load_params
from tinyhelen.log import run_cli, setup_logging
from tinyhelen.pretrain import check_launch, launched_rank, pretrain, write_outputs
from tinyhelen.repro import seed_everything
from tinyhelen.tracking import NullLogger, open_tracker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=["llama", "mamba", "bert", "xlnet"])
    parser.add_argument("--corpus", required=True, choices=["leaner", "ori"])
    parser.add_argument("--packed", default="data/packed", help="folder of <corpus>-<family> packs")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="folder of <family> tokenizers")
    parser.add_argument("--models", default="models", help="output folder of <arch>-<corpus> models")
    parser.add_argument("--metrics", default="metrics/pretrain", help="folder of <arch>-<corpus>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    main_process = launched_rank() == 0
    setup_logging(None if main_process else "WARNING")
    check_launch()
    seed_everything(params.seed, deterministic=params.pretrain.deterministic)
    name = f"{args.arch}-{args.corpus}"
    config = {"seed": params.seed, "model": {args.arch: getattr(params.model, args.arch)}, "pretrain": params.pretrain}
    tracking = open_tracker("pretrain", config, run_name=f"pretrain@{name}") if main_process else (
        contextlib.nullcontext(NullLogger()))
    with tracking as tracker:
        tracker.set_tags({"tinyhelen.arch": args.arch, "tinyhelen.corpus": args.corpus})
        model_dir = Path(args.models) / name
        result = pretrain(args.arch, args.corpus, params, packed_root=args.packed, tokenizers_root=args.tokenizers,
                          model_dir=model_dir, tracker=tracker)
        if main_process:
            write_outputs(result, arch=args.arch, corpus=args.corpus, model_dir=model_dir, metrics_dir=args.metrics,
                          config=config, seed=params.seed, data_source=params.data.source, params_file=args.params)
            # the loop logged the last step's train/ and val/ metrics already: the rest, once
            tracker.log_metrics({k: v for k, v in result.metrics.items() if not k.startswith(("train/", "val/"))},
                                step=params.pretrain.max_steps)
            if result.started_from is not None:
                tracker.set_tags({"tinyhelen.resume_from": result.started_from["path"],
                                  "tinyhelen.resume_kind": result.started_from["kind"],
                                  "tinyhelen.resume_step": result.started_from["step"]})
            tracker.log_artifact(model_dir / "README.md", "model_card")
            tracker.log_artifact(model_dir / "meta.json", "model_card")
            tracker.log_artifact(Path(args.metrics) / "curves" / name, "curves")


if __name__ == "__main__":
    run_cli(main)
