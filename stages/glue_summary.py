"""Stage `glue_summary`: the Leaner-GLUE results of the model grid over pre-training seeds, and the paired
difference leaner - ori per arch.

    python -m stages.glue_summary --results results/glue --summary metrics/glue_summary.json \
        --out results/glue_summary [--params params.yaml]

Reads `<results>/<name>/metrics.json` for exactly the models params name: every `<arch>-<corpus>-s<seed>` of
`pretrain.archs` x `pretrain.corpora` x `pretrain.seeds`, plus the from-scratch baseline `<arch>-scratch-s<seed>`
per arch and seed (never other files in the folder; a missing one is an error). Writes `metrics/glue_summary.json`
(per (arch, corpus): mean, std and 95% t-interval over pre-training seeds per column and for the average; per
arch the paired leaner - ori difference with its interval) and `<out>/table.md` + `<out>/models.json` (each
model's scores) + meta.json. See `tinyhelen.glue.aggregate`.
"""

from __future__ import annotations

import argparse

from tinyhelen.core.io import atomic_dir, atomic_open, write_json
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.glue.aggregate import grid_table, read_grid_metrics, summarise_grid
from tinyhelen.grid import grid_models
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--results", default="results/glue", help="the glue stage's results folder (<name>/metrics.json)"
    )
    parser.add_argument("--summary", default="metrics/glue_summary.json", help="summary metrics file")
    parser.add_argument("--out", default="results/glue_summary", help="folder for table.md and meta.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)

    params = load_params(args.params)
    cfg = params.pretrain
    pretrained = grid_models(cfg.archs, cfg.corpora, cfg.seeds)
    scratch = grid_models(cfg.archs, ["scratch"], cfg.seeds)
    steps = {m.name: params.glue.step_for(m.arch) for m in pretrained} | {m.name: None for m in scratch}
    setup_logging()
    seed_everything(params.seed)
    config = {
        "seed": params.seed,
        "pretrain": {"archs": cfg.archs, "corpora": cfg.corpora, "seeds": cfg.seeds},
        "glue": {"step": params.glue.step, "source": params.glue.source},
    }
    with open_tracker("glue_summary", config) as tracker:
        models, inputs = read_grid_metrics(args.results, [m.name for m in scratch + pretrained], steps)
        summary = summarise_grid(models)
        table = grid_table(summary)
        with atomic_dir(args.out) as tmp:
            with atomic_open(tmp / "table.md") as handle:
                handle.write(table)
            write_json(tmp / "models.json", summary["models"])
            write_meta(tmp, stage="glue_summary", config=config, seed=params.seed, inputs=inputs)
            write_metrics(
                args.summary,
                summary,
                headline=("groups.*.average", "differences.*.average"),
                details_path=tmp / "summary.json",
            )
        tracker.log_metrics(
            {
                f"{name}/average": row["average"]["mean"]
                for name, row in summary["groups"].items()
                if row["average"] is not None
            }
        )
    print(table)


if __name__ == "__main__":
    run_cli(main)
