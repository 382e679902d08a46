"""Stage `pretrain_summary`: validation loss of every pretrained model of the grid, with intervals over seeds.

    python -m stages.pretrain_summary --metrics-dir metrics/pretrain --summary metrics/pretrain_summary.json \
        --out results/pretrain_summary [--params params.yaml]

Reads the models that `pretrain.archs` x `pretrain.corpora` x `pretrain.seeds` name; writes the headline
metrics, `<out>/table.md`, `<out>/loss_by_tokens.png`, `<out>/summary.json` and meta.json.
See `tinyhelen.pretrain.summary`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.io import atomic_dir, atomic_open
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.grid import grid_models
from tinyhelen.params import load_params
from tinyhelen.pretrain.summary import HEADLINE_METRICS, markdown_table, summarise_pretraining, write_loss_plot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-dir", default="metrics/pretrain", help="folder of <model>.json and curves/")
    parser.add_argument("--summary", default="metrics/pretrain_summary.json", help="headline metrics file")
    parser.add_argument("--out", default="results/pretrain_summary", help="folder for the table and the plot")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    cfg = params.pretrain
    config = {"seed": params.seed, "pretrain": {"archs": cfg.archs, "corpora": cfg.corpora, "seeds": cfg.seeds}}
    with open_tracker("pretrain_summary", config) as tracker:
        summary = summarise_pretraining(grid_models(cfg.archs, cfg.corpora, cfg.seeds), args.metrics_dir)
        inputs = summary.pop("inputs")
        with atomic_dir(args.out) as tmp:
            with atomic_open(tmp / "table.md") as handle:
                handle.write(markdown_table(summary))
            write_loss_plot(summary, args.metrics_dir, tmp / "loss_by_tokens.png")
            write_metrics(args.summary, summary, headline=HEADLINE_METRICS, details_path=tmp / "summary.json")
            write_meta(tmp, stage="pretrain_summary", config=config, seed=params.seed, inputs=inputs)
        tracker.log_metrics({"val_loss": summary["val_loss"], "leaner_minus_ori": summary["leaner_minus_ori"]})
    print(markdown_table(summary))


if __name__ == "__main__":
    run_cli(main)
