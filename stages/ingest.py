"""Stage `ingest`: read the corpus named by `data.source` into normalised JSON Lines.

    python -m stages.ingest --out data/raw --metrics metrics/ingest.json [--params params.yaml]

Reads the bundled sample, a local folder in the TinyHelen release layout, or the hub repo, and writes
`data/raw/` (with meta.json) and `metrics/ingest.json`. See `tinyhelen.corpus.ingest` for the layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.corpus.ingest import HEADLINE_METRICS, ingest
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/raw", help="output folder")
    parser.add_argument("--metrics", default="metrics/ingest.json", help="metrics file")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "data": params.data, "ingest": params.ingest}
    with open_tracker("ingest", config) as tracker:
        result = ingest(params.data, params.ingest, args.out)
        timings = write_metrics(
            args.metrics, result.metrics, headline=HEADLINE_METRICS, details_path=Path(args.out) / "stats.json"
        )
        write_meta(
            args.out,
            stage="ingest",
            config=config,
            seed=params.seed,
            inputs=result.inputs,
            extra={"source": result.source},
        )
        tracker.log_metrics({**result.metrics, **timings})
        tracker.set_tags({"data.revision": result.source["revision"]})


if __name__ == "__main__":
    run_cli(main)
