"""Stage `generate`: one tuned model (and its exported checkpoints) answers the Leaner-Eval questions.

    python -m stages.generate --model models/instruct/llama-leaner-s65-leaner [--name NAME] \
        [--eval data/raw/eval] [--out results/generations] [--metrics metrics/generate]

Writes `<out>/<name>.jsonl` (the final model on `generate.sets`), `<out>/<name>/step-<N>.jsonl` (each checkpoint
on `generate.checkpoint_sets`) with `<out>/<name>/meta.json`, and `<metrics>/<name>.json`. See
`tinyhelen.eval.generate`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tinyhelen.core.io import atomic_dir, write_json, write_jsonl
from tinyhelen.core.log import run_cli, setup_logging
from tinyhelen.core.repro import seed_everything, write_meta
from tinyhelen.core.tracking import open_tracker
from tinyhelen.eval.generate import generate_model, load_questions, load_template, summarise_answers
from tinyhelen.params import load_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="tuned model folder (HF model + tokenizer)")
    parser.add_argument("--name", help="name in reports (default: the folder's name)")
    parser.add_argument("--eval", default="data/raw/eval", help="ingested Leaner-Eval question files")
    parser.add_argument("--out", default="results/generations", help="folder for the answer files")
    parser.add_argument("--metrics", default="metrics/generate", help="folder for <name>.json")
    parser.add_argument("--params", default="params.yaml", help="params file")
    args = parser.parse_args(argv)
    name = args.name or Path(args.model).name

    params = load_params(args.params)
    cfg = params.generate
    setup_logging()
    seed_everything(params.seed)
    template = load_template(cfg.template)
    questions = load_questions(args.eval, cfg.sets, cfg.max_questions)
    inner = load_questions(args.eval, cfg.checkpoint_sets, cfg.max_questions) if cfg.checkpoint_sets else []
    config = {"seed": params.seed, "generate": cfg}
    with open_tracker("generate", config, run_name=f"generate@{name}") as tracker:
        started = time.perf_counter()
        result = generate_model(args.model, questions, cfg, template, inner)
        seconds = time.perf_counter() - started
        out = Path(args.out)
        with atomic_dir(out / name) as tmp:
            for step, records in result.checkpoints.items():
                write_jsonl(tmp / f"step-{step}.jsonl", records)
            write_meta(
                tmp,
                stage="generate",
                config=config,
                seed=params.seed,
                inputs=result.inputs,
                extra={"model": name, "template": template},
            )
        write_jsonl(out / f"{name}.jsonl", result.final)
        metrics = {
            "model": name,
            **summarise_answers(result.final),
            "checkpoints": {f"step-{step}": summarise_answers(records) for step, records in result.checkpoints.items()},
        }
        write_json(Path(args.metrics) / f"{name}.json", metrics)
        tracker.log_metrics(
            {
                "questions": metrics["questions"],
                "empty_rate": metrics["empty_rate"],
                "mean_tokens": metrics["mean_tokens"],
                "seconds": seconds,
                "tokens_per_s": result.generated_tokens / seconds if seconds else 0.0,
            }
        )
        tracker.set_tags({"generate.model": name})


if __name__ == "__main__":
    run_cli(main)
