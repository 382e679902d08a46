"""Stage `curriculum`: train one arm (strategy x seed) of the curriculum study on the proxy Llama.

    python -m stages.curriculum --strategy iter-lmloss --seed 65 [--composed data/composed]
        [--tokenizers data/tokenizers] [--difficulty data/difficulty] [--models models/curriculum]
        [--runs results/curriculum/arms] [--metrics metrics/curriculum/arms] [--params params.yaml]

Writes models/curriculum/<strategy>-s<seed>/step-<N>/ (HF model + tokenizer at each curriculum.export_steps),
results/curriculum/arms/<strategy>-s<seed>/ (run.json, curve.csv: validation loss, tokens and data share per
evaluation; train.csv; meta.json) and metrics/curriculum/arms/<strategy>-s<seed>.json. Checkpoints go to
curriculum.run_dir (git-ignored). See `tinyhelen.curriculum.run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything
from tinyhelen.core.tracking import open_tracker
from tinyhelen.curriculum.config import STRATEGIES
from tinyhelen.curriculum.run import pretrain_settings, run_curriculum, run_name, write_run_outputs
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategy", required=True, choices=STRATEGIES)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--composed", default="data/composed", help="the compose stage's folder")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="folder of <family> tokenizers")
    parser.add_argument("--difficulty", default="data/difficulty", help="folder of <corpus>.jsonl")
    parser.add_argument("--models", default="models/curriculum", help="folder of <strategy>-s<seed> exports")
    parser.add_argument("--runs", default="results/curriculum/arms", help="folder of <strategy>-s<seed> curves")
    parser.add_argument("--metrics", default="metrics/curriculum/arms", help="folder of <strategy>-s<seed>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    cfg = params.curriculum
    seed_everything(args.seed, deterministic=params.pretrain.deterministic)
    name = run_name(args.strategy, args.seed)
    config = {"seed": args.seed, "curriculum": cfg, "pretrain": pretrain_settings(cfg, params.pretrain)}
    with open_tracker("curriculum", config, run_name=f"curriculum@{name}") as tracker:
        tracker.set_tags({"tinyhelen.strategy": args.strategy, "tinyhelen.seed": args.seed})
        result = run_curriculum(
            args.strategy,
            args.seed,
            cfg,
            params.pretrain,
            composed_dir=args.composed,
            tokenizers_dir=args.tokenizers,
            difficulty_path=Path(args.difficulty) / f"{cfg.corpus}.jsonl",
            model_dir=Path(args.models) / name,
            tracker=tracker,
        )
        write_run_outputs(
            result,
            out_dir=Path(args.runs) / name,
            metrics_path=Path(args.metrics) / f"{name}.json",
            config=config,
            max_steps=cfg.max_steps,
        )
        tracker.log_metrics(
            {k: v for k, v in result.metrics.items() if isinstance(v, (int, float))}, step=cfg.max_steps
        )


if __name__ == "__main__":
    run_cli(main)
