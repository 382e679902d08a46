"""Stage `probe_summary`: the grid's probe scores in one table (models x phenomena) and a heatmap.

    python -m stages.probe_summary [--metrics-dir metrics/probe] [--summary metrics/probe_summary.json] \
        [--out results/probe_summary] [--params params.yaml]

Rows, from params alone (tinyhelen/grid.py): every grid model `<arch>-<corpus>-s<seed>`, the random-init
baseline `<arch>-random` of each arch, and the n-gram reference `<ngram>-<corpus>` of each corpus. Writes the
headline metrics (per row: accuracy, interval, tie rate, filtered accuracy), `<out>/summary.json` (the whole table,
phenomena included), `<out>/table.md`, `<out>/plot.png` and meta.json. See `tinyhelen.eval.probe.summarise`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.io import atomic_dir, atomic_open, sha256_file
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.eval.probe import SUMMARY_HEADLINE, plot_summary, summarise
from tinyhelen.grid import grid_rows
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-dir", default="metrics/probe", help="folder of <name>.json probe metrics")
    parser.add_argument("--summary", default="metrics/probe_summary.json", help="summary metrics file")
    parser.add_argument("--out", default="results/probe_summary", help="folder for table.md, plot.png, meta.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    pre = params.pretrain
    names = grid_rows(pre.archs, pre.corpora, pre.seeds, params.probe.ngrams)
    files = {name: Path(args.metrics_dir) / f"{name}.json" for name in names}
    config = {
        "seed": params.seed,
        "probe": params.probe,
        "pretrain": {"archs": pre.archs, "corpora": pre.corpora, "seeds": pre.seeds},
    }
    with open_tracker("probe_summary", config) as tracker:
        summary, table = summarise(files)
        with atomic_dir(args.out) as tmp:
            with atomic_open(tmp / "table.md") as handle:
                handle.write(table)
            plot_summary(summary, tmp / "plot.png")
            write_metrics(args.summary, summary, headline=SUMMARY_HEADLINE, details_path=tmp / "summary.json")
            write_meta(
                tmp,
                stage="probe_summary",
                config=config,
                seed=params.seed,
                inputs={str(p): sha256_file(p) for p in files.values()},
            )
        tracker.log_metrics({f"{name}.accuracy": row["accuracy"] for name, row in summary["models"].items()})
    print(table)


if __name__ == "__main__":
    run_cli(main)
