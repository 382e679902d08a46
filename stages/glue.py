"""Stage `glue`: fine-tune one pretrained model (or its from-scratch baseline) on Leaner-GLUE and score it.

    python -m stages.glue --model models/llama-leaner-s65 --name llama-leaner-s65 \
        [--scratch] [--glue data/raw/glue] [--constructed data/leaner_glue] \
        [--out results/glue/llama-leaner-s65] [--metrics metrics/glue/llama-leaner-s65.json]

Runs the LR x seed grid of params `glue` over its tasks (a task without train or validation data is skipped),
keeps each run's best validation state, and writes `<out>/runs.jsonl` (every run), `<out>/meta.json` and the
per-model metrics: best LR per task, test mean ± std over seeds, the GLUE average. The task files are the
ingested release (`--glue`) or, with `glue.source: constructed`, the ones glue_simplify built (`--constructed`).
`glue.step` picks the checkpoint: the final model, or the exported `models/<name>/step-<N>/` (the metrics
record `"step"`). With `--scratch` the body is the model's config with random weights drawn from the seed in
the name (`<arch>-scratch-s<seed>`). See `tinyhelen.glue`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tinyhelen.core.io import atomic_dir, write_jsonl
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, split_volatile, write_meta, write_metrics
from tinyhelen.core.tracking import open_tracker
from tinyhelen.glue.aggregate import parse_model_name
from tinyhelen.glue.data import glue_source_dir
from tinyhelen.glue.finetune import HEADLINE_METRICS, glue_model
from tinyhelen.params import load_params
from tinyhelen.pretrain.cards import card_with_scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="pretrained model folder (model + tokenizer)")
    parser.add_argument("--name", required=True, help="name in reports: <arch>-<leaner|ori|scratch>-s<seed>")
    parser.add_argument("--scratch", action="store_true", help="random weights from the model's config")
    parser.add_argument("--glue", default="data/raw/glue", help="release folder of <task>_<split>.jsonl files")
    parser.add_argument("--constructed", default="data/leaner_glue", help="glue_simplify's folder of task files")
    parser.add_argument("--out", help="folder for runs.jsonl and meta.json (default results/glue/<name>)")
    parser.add_argument("--metrics", help="metrics file (default metrics/glue/<name>.json)")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)
    out = args.out or f"results/glue/{args.name}"
    metrics_path = args.metrics or f"metrics/glue/{args.name}.json"

    params = load_params(args.params)
    arch, _, seed = parse_model_name(args.name)
    step = None if args.scratch else params.glue.step_for(arch)
    glue_dir = glue_source_dir(params.glue.source, args.glue, args.constructed)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "glue": params.glue}
    with open_tracker("glue", config, run_name=f"glue@{args.name}") as tracker:
        result = glue_model(
            args.name,
            args.model,
            args.scratch,
            glue_dir,
            params.glue,
            tracker,
            step=step,
            init_seed=seed if args.scratch else None,
        )
        with atomic_dir(out) as tmp:
            write_jsonl(tmp / "runs.jsonl", [split_volatile(run)[0] for run in result.runs])
            write_meta(
                tmp,
                stage="glue",
                config=config,
                seed=params.seed,
                inputs=result.inputs,
                extra={**result.extra, "glue_dir": str(glue_dir)},
            )
            timings = write_metrics(
                metrics_path, result.metrics, headline=HEADLINE_METRICS, details_path=tmp / "metrics.json"
            )
        tracker.log_metrics({"average": result.metrics["average"], "scores": result.metrics["scores"], **timings})
        tracker.set_tags(
            {
                "glue.model": args.name,
                "glue.init": result.extra["init"],
                "glue.step": str(result.extra["step"]),
                "glue.source": params.glue.source,
            }
        )
        if not args.scratch:  # the model's card with its GLUE scores, as an artifact of this run
            with tempfile.TemporaryDirectory() as tmp_dir:
                card = card_with_scores(
                    args.model,
                    {"Leaner-GLUE": {"average": result.metrics["average"], "scores": result.metrics["scores"]}},
                    data_source=params.data.source,
                    out_path=Path(tmp_dir) / "README.md",
                )
                if card is not None:
                    tracker.log_artifact(card, "model_card")


if __name__ == "__main__":
    run_cli(main)
