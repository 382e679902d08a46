"""Stage `glue`: fine-tune one pretrained model (or its from-scratch baseline) on Leaner-GLUE and score it.

    python -m stages.glue --model models/llama-leaner --name llama-leaner \
        [--scratch] [--glue data/raw/glue] [--out results/glue/llama-leaner] [--metrics metrics/glue/llama-leaner.json]

Runs the LR x seed grid of params `glue` over its tasks (a task without train or validation data is skipped),
keeps each run's best validation state, and writes `<out>/runs.jsonl` (every run), `<out>/meta.json` and the
per-model metrics: best LR per task, test mean ± std over seeds, the GLUE average. With `--scratch` the body
is the model's config with random weights. See `tinyhelen.glue`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tinyhelen.cards import card_with_scores
from tinyhelen.config import load_params
from tinyhelen.glue.finetune import glue_model
from tinyhelen.io import atomic_dir, write_json, write_jsonl
from tinyhelen.log import run_cli, setup_logging
from tinyhelen.repro import seed_everything, write_meta
from tinyhelen.tracking import open_tracker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="pretrained model folder (model + tokenizer)")
    parser.add_argument("--name", required=True, help="name in reports: <arch>-<leaner|ori|scratch>")
    parser.add_argument("--scratch", action="store_true", help="random weights from the model's config")
    parser.add_argument("--glue", default="data/raw/glue", help="folder of <task>_<split>.jsonl files")
    parser.add_argument("--out", help="folder for runs.jsonl and meta.json (default results/glue/<name>)")
    parser.add_argument("--metrics", help="metrics file (default metrics/glue/<name>.json)")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)
    out = args.out or f"results/glue/{args.name}"
    metrics_path = args.metrics or f"metrics/glue/{args.name}.json"

    params = load_params(args.params)
    setup_logging()
    seed_everything(params.seed)
    config = {"seed": params.seed, "glue": params.glue}
    with open_tracker("glue", config, run_name=f"glue@{args.name}") as tracker:
        result = glue_model(args.name, args.model, args.scratch, args.glue, params.glue, tracker)
        with atomic_dir(out) as tmp:
            write_jsonl(tmp / "runs.jsonl", result.runs)
            write_meta(tmp, stage="glue", config=config, seed=params.seed, inputs=result.inputs,
                       extra=result.extra)
        write_json(metrics_path, result.metrics)
        tracker.log_metrics({"average": result.metrics["average"], "scores": result.metrics["scores"]})
        tracker.set_tags({"glue.model": args.name, "glue.init": result.extra["init"]})
        if not args.scratch:  # the model's card with its GLUE scores, as an artifact of this run
            with tempfile.TemporaryDirectory() as tmp_dir:
                card = card_with_scores(args.model, {"Leaner-GLUE": {"average": result.metrics["average"],
                                                                     "scores": result.metrics["scores"]}},
                                        data_source=params.data.source, out_path=Path(tmp_dir) / "README.md")
                if card is not None:
                    tracker.log_artifact(card, "model_card")


if __name__ == "__main__":
    run_cli(main)
