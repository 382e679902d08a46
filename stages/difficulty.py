"""Stage `difficulty`: score every training document (mean words per sentence, reference-LM loss).

    python -m stages.difficulty [--composed data/composed] [--out data/difficulty] [--plots results/difficulty]
        [--metrics metrics/difficulty] [--params params.yaml]

Reads data/composed/<difficulty.corpus>/train.jsonl and the reference model `difficulty.reference_model`;
writes data/difficulty/<corpus>.jsonl (one record per document, keyed by id), results/difficulty/<corpus>/
(loss_histogram.csv/.png, meta.json) and metrics/difficulty/<corpus>.json. See `tinyhelen.curriculum.difficulty`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.io import write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.curriculum.difficulty import score_difficulty, write_difficulty
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composed", default="data/composed", help="the compose stage's folder")
    parser.add_argument("--out", default="data/difficulty", help="folder of <corpus>.jsonl")
    parser.add_argument("--plots", default="results/difficulty", help="folder of <corpus>/ histograms")
    parser.add_argument("--metrics", default="metrics/difficulty", help="folder of <corpus>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    cfg = params.difficulty
    config = {"seed": params.seed, "difficulty": cfg, "sentences": params.sentences}
    with open_tracker("difficulty", config, run_name=f"difficulty@{cfg.corpus}") as tracker:
        result = score_difficulty(cfg, params.sentences, composed_dir=args.composed)
        plots = Path(args.plots) / cfg.corpus
        write_difficulty(result, Path(args.out) / f"{cfg.corpus}.jsonl", plots)
        write_meta(plots, stage="difficulty", config=config, seed=params.seed, inputs=result.inputs)
        write_json(Path(args.metrics) / f"{cfg.corpus}.json", result.metrics)
        tracker.log_metrics({k: v for k, v in result.metrics.items() if isinstance(v, (int, float))})


if __name__ == "__main__":
    run_cli(main)
