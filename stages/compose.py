"""Stage `compose`: choose pre-training documents per genre ratio, up to a token budget.

    python -m stages.compose --leaner data/leaner --ori data/clean/ori --tokenizers data/tokenizers \
        --out data/composed --metrics metrics/compose.json [--params params.yaml]

Writes `data/composed/<corpus>/<split>.jsonl` (same ids in every corpus), meta.json and
`metrics/compose.json` (achieved vs target tokens per genre, absent genres). See `tinyhelen.tokens.compose`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.tokens.compose import HEADLINE_METRICS, compose


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaner", default="data/leaner", help="leaner corpus folder")
    parser.add_argument("--ori", default="data/clean/ori", help="original corpus folder")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="tokenizer folder (counts tokens)")
    parser.add_argument("--out", default="data/composed", help="output folder")
    parser.add_argument("--metrics", default="metrics/compose.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "compose": params.compose}
    with open_tracker("compose", config) as tracker:
        result = compose(
            params.compose, params.seed, {"leaner": Path(args.leaner), "ori": Path(args.ori)}, args.tokenizers, args.out
        )
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_meta(args.out, stage="compose", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})


if __name__ == "__main__":
    run_cli(main)
