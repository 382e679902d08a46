"""Stage `report`: one offline page answering the paper's three questions from every stage's metrics.

    python -m stages.report [--metrics metrics] [--out results/report] [--params params.yaml]

Reads the metrics of each stage present (sections in params `report.sections`; an absent stage's section is
omitted with a note) and writes `<out>/index.html` (self-contained: inline CSS, base64 PNG plots, no
scripts), `<out>/README.md` (the same tables, plots as PNG files beside it) and meta.json. The HTML is also
logged to MLflow as an artifact. See `tinyhelen.report`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tinyhelen.core.config import read_yaml
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.grid import grid_rows
from tinyhelen.params import load_params
from tinyhelen.report.build import build_report, write_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", default="metrics", help="metrics folder of the pipeline")
    parser.add_argument("--out", default="results/report", help="folder for index.html, README.md, plots")
    parser.add_argument(
        "--root", default=".", help="repo root: the stages' full accounting (stats.json) beside outputs"
    )
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    pre = params.pretrain
    config = {
        "seed": params.seed,
        "report": params.report,
        "grid": {"archs": pre.archs, "corpora": pre.corpora, "seeds": pre.seeds, "ngrams": params.probe.ngrams},
    }
    with open_tracker("report", config) as tracker:
        result = build_report(
            params.report,
            args.metrics,
            params_path=args.params,
            params=read_yaml(args.params, "params file"),
            root=args.root,
            rows=grid_rows(pre.archs, pre.corpora, pre.seeds, params.probe.ngrams),
        )
        out = write_report(result, args.out)
        write_meta(out, stage="report", config=config, seed=params.seed, inputs=result.inputs)
        tracker.log_metrics(result.summary)
        tracker.log_artifact(Path(out) / "index.html")


if __name__ == "__main__":
    run_cli(main)
