"""Stage `clean`: remove markup, boilerplate, private data, non-English text and duplicates.

    python -m stages.clean --raw data/raw --out data/clean --metrics metrics/clean.json \
        --plots metrics/plots [--params params.yaml]

Writes `data/clean/` (same layout and ids as data/raw, plus rejects.jsonl and meta.json), `metrics/clean.json`
and a plot of what each rule removed per genre. See `tinyhelen.corpus.clean_rules` for the rules.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.plots import write_bar_plot
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.corpus.clean import HEADLINE_METRICS, clean_corpus
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default="data/raw", help="ingest output folder")
    parser.add_argument("--out", default="data/clean", help="output folder")
    parser.add_argument("--metrics", default="metrics/clean.json", help="metrics file")
    parser.add_argument("--plots", default="metrics/plots", help="folder for clean_removed.{csv,png}")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "data": params.data, "clean": params.clean}
    with open_tracker("clean", config) as tracker:
        result = clean_corpus(args.raw, args.out, params.data, params.clean)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_bar_plot(
            result.plot_rows,
            f"{args.plots}/clean_removed",
            category="genre",
            series="rule",
            value="words_removed",
            title="Words removed per rule",
        )
        write_meta(args.out, stage="clean", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics({**result.metrics, **timings})
        tracker.log_artifact(f"{args.plots}/clean_removed.png", "plots")


if __name__ == "__main__":
    run_cli(main)
