"""Stage `curriculum_summary`: the curriculum study's tokens-to-target table and plots over every arm.

    python -m stages.curriculum_summary [--runs results/curriculum/arms] [--difficulty data/difficulty]
        [--out results/curriculum/summary] [--summary metrics/curriculum.json] [--params params.yaml]

Writes <out>/{table.md,targets.csv,loss_vs_tokens.png,data_share.png,difficulty.png,meta.json} and
metrics/curriculum.json (per strategy: final loss and, per target, seeds reached, steps saved %, data used %,
compute saved %, each a mean with its interval over seeds). See `tinyhelen.curriculum.measure`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.io import write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.curriculum.summary import summarise
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="results/curriculum/arms", help="folder of <strategy>-s<seed> runs")
    parser.add_argument("--difficulty", default="data/difficulty", help="folder of <corpus>.jsonl (optional)")
    parser.add_argument("--out", default="results/curriculum/summary", help="folder for the table and plots")
    parser.add_argument("--summary", default="metrics/curriculum.json", help="summary metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    cfg = params.curriculum
    config = {"seed": params.seed, "curriculum": cfg}
    difficulty = Path(args.difficulty) / f"{cfg.corpus}.jsonl"
    with open_tracker("curriculum_summary", config) as tracker:
        summary, inputs = summarise(
            args.runs, cfg, out_dir=args.out, difficulty_path=difficulty if difficulty.is_file() else None
        )
        write_meta(args.out, stage="curriculum_summary", config=config, seed=params.seed, inputs=inputs)
        write_json(args.summary, summary)
        for strategy, final in summary["final_loss"].items():
            tracker.log_metrics({f"{strategy}/final_loss": final["mean"]})
            cell = summary["targets"][strategy][str(cfg.target_fractions[-1])]
            if cell["steps_saved_pct"]["mean"] is not None:
                tracker.log_metrics({f"{strategy}/steps_saved_pct": cell["steps_saved_pct"]["mean"]})
    print((Path(args.out) / "table.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    run_cli(main)
