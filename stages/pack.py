"""Stage `pack`: tokenise the composed corpora and write uint16 token shards, one per corpus and family.

    python -m stages.pack --composed data/composed --tokenizers data/tokenizers --out data/packed \
        --metrics metrics/pack.json [--params params.yaml]

Writes `data/packed/<corpus>-<family>/{<split>.bin,index.json}` (each row one model input_ids row),
meta.json and `metrics/pack.json`. See `tinyhelen.tokens.pack`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.params import load_params
from tinyhelen.tokens.pack import HEADLINE_METRICS, pack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composed", default="data/composed", help="composed corpora folder")
    parser.add_argument("--tokenizers", default="data/tokenizers", help="tokenizer folder")
    parser.add_argument("--out", default="data/packed", help="output folder")
    parser.add_argument("--metrics", default="metrics/pack.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "pack": params.pack}
    with open_tracker("pack", config) as tracker:
        result = pack(params.pack, args.composed, args.tokenizers, args.out)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_meta(args.out, stage="pack", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})


if __name__ == "__main__":
    run_cli(main)
