"""Stage `tokenizer`: train the 2K byte-level BPE tokenizers, one per model family.

    python -m stages.tokenizer --leaner data/leaner --ori data/clean/ori --out data/tokenizers \
        --metrics metrics/tokenizer.json [--params params.yaml]

Writes `data/tokenizers/<family>/` (PreTrainedTokenizerFast folders; AutoTokenizer loads them), meta.json
and `metrics/tokenizer.json`. See `tinyhelen.tokens.tokenizer`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.tokens.tokenizer import HEADLINE_METRICS, build_tokenizers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaner", default="data/leaner", help="leaner corpus folder")
    parser.add_argument("--ori", default="data/clean/ori", help="original corpus folder")
    parser.add_argument("--out", default="data/tokenizers", help="output folder")
    parser.add_argument("--metrics", default="metrics/tokenizer.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "tokenizer": params.tokenizer}
    with open_tracker("tokenizer", config) as tracker:
        result = build_tokenizers(params.tokenizer, {"leaner": Path(args.leaner), "ori": Path(args.ori)}, args.out)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_meta(args.out, stage="tokenizer", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})


if __name__ == "__main__":
    run_cli(main)
