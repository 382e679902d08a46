"""Stage `glue_summary`: gather the per-model Leaner-GLUE metrics into one summary and the paper's table.

    python -m stages.glue_summary metrics/glue/llama-leaner.json ... \
        [--summary metrics/glue_summary.json] [--out results/glue_summary]

With no files given it reads every `metrics/glue/*.json`. Writes `metrics/glue_summary.json` (per model: test
score per column, GLUE average, best LRs, skipped tasks) and `<out>/table.md` (models x tasks) + meta.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.io import atomic_dir, atomic_open, write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.glue.aggregate import summarise_files
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="per-model metrics files (default: metrics/glue/*.json)")
    parser.add_argument("--summary", default="metrics/glue_summary.json", help="summary metrics file")
    parser.add_argument("--out", default="results/glue_summary", help="folder for table.md and meta.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)
    files = [Path(f) for f in args.files] or sorted(Path("metrics/glue").glob("*.json"))

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed}
    with open_tracker("glue_summary", config) as tracker:
        summary, table, inputs = summarise_files(files)
        with atomic_dir(args.out) as tmp:
            with atomic_open(tmp / "table.md") as handle:
                handle.write(table)
            write_meta(tmp, stage="glue_summary", config=config, seed=params.seed, inputs=inputs)
        write_json(args.summary, summary)
        tracker.log_metrics({name: row["average"] for name, row in summary["models"].items()})
    print(table)


if __name__ == "__main__":
    run_cli(main)
